"""Plans (domain/plans.py): one strictly validated JSON document; a request over a cap of its plan
is refused with 422 `plan_limit` naming the cap, never clamped; the shipped default's `free` and
`pro` are what the issue asks for."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from gencore.domain.errors import PlanLimit
from gencore.domain.estimates import table_credits
from gencore.domain.plans import check_caps, default_plans, default_plans_json, load_plans
from gencore.domain.requests import ImageGenerationRequest, Source, VariationRequest
from gencore.views import status_for

pytestmark = pytest.mark.unit

LIGHTNING_XL = "b24e16ff-06e3-43eb-8d33-4416c2d75876"
KINO_XL = "aa77f04e-3eec-4034-9c07-d0f619684628"
DOCUMENT = json.loads(default_plans_json())


def document(**changes) -> dict:
    """The shipped document with `changes` applied at dotted paths (`plans.free.rate.burst`)."""
    doc = copy.deepcopy(DOCUMENT)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return doc


def load(doc: dict):
    return load_plans(json.dumps(doc))


def job(**fields) -> dict:
    return ImageGenerationRequest.model_validate({"prompt": "a lake"} | fields).normalized()


def refusal(plan_name: str, kind: str, request: dict) -> PlanLimit:
    with pytest.raises(PlanLimit) as refused:
        check_caps(default_plans().plan_for(plan_name), kind, request)
    return refused.value


# -- the document ---------------------------------------------------------------------------------


def test_no_document_is_the_shipped_default():
    assert load_plans(None) == load_plans("  ") == default_plans()
    assert set(default_plans().plans) >= {"free", "pro"} and default_plans().default_plan == "free"


@pytest.mark.parametrize(
    "change",
    [
        {"plans.free.caps.max_colour": 3},
        {"plans.pro.extra": True},
        {"surprise": 1},
    ],
    ids=["an unknown cap", "an unknown plan setting", "an unknown top-level key"],
)
def test_unknown_keys_are_refused(change):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        load(document(**change))


@pytest.mark.parametrize(
    "change",
    [
        {"plans.free.rate.burst": "10"},
        {"plans.free.max_waiting_jobs": 10.5},
        {"plans.free.caps.max_images_per_request": True},
        {"plans.free.nsfw": "blur"},
        {"plans.free.caps.allowed_kinds": ["text_to_image", "training_day"]},
        {"plans.free.caps.allowed_models": ["not-a-uuid"]},
        {"plans.free.caps.allowed_models": []},
        {"plans.free.caps.max_width": 4096},
        {"plans.free.budget.per_day": -1},
        {"plans.free.budget.per_day": 5000, "plans.free.budget.per_month": 4500},
        {"plans.free.rate.per_second": 0},
        {"plans.free.max_queue_seconds": ...},
        {"version": 2},
        {"budget_unit": "EUROS"},
        {"plans": {}},
        {"plans.Free Plan": DOCUMENT["plans"]["free"]},
    ],
    ids=["a string number", "a fractional count", "a boolean count", "an unknown NSFW policy",
         "an unknown kind", "a model that is not a UUID", "no model at all", "a width Leonardo does not take",
         "a negative budget", "a day over the month", "a zero rate", "a missing setting", "another version",
         "another unit", "no plans", "a plan name that is not a name"],
)  # fmt: skip
def test_wrong_values_are_refused(change):
    with pytest.raises(ValidationError):
        load(document(**change))


def test_the_default_plan_must_exist():
    with pytest.raises(ValidationError, match="default_plan 'gold' is not one of the plans"):
        load(document(default_plan="gold"))


def test_budgets_may_be_fractional_amounts_for_an_account_billed_in_dollars():
    plans = load(document(budget_unit="DOLLARS", **{"plans.free.budget.per_day": "0.50"}))
    assert plans.plans["free"].budget.per_day == Decimal("0.50")


def test_the_budgets_unit_must_be_the_deployments():
    assert default_plans().for_billing_unit("CREDITS") is not None
    with pytest.raises(ValueError, match="budgets are in CREDITS, the deployment bills in DOLLARS"):
        default_plans().for_billing_unit("DOLLARS")


@pytest.mark.parametrize(("claim", "plan"), [(None, "free"), ("", "free"), ("pro", "pro"), ("gold", "free")])
def test_the_claim_names_the_plan_and_the_default_plan_covers_the_rest(claim, plan):
    assert default_plans().plan_for(claim).name == plan


def test_a_plans_rate_is_a_token_bucket():
    bucket = default_plans().plan_for("free").rate.bucket
    assert (bucket.capacity, bucket.per_second) == (10, 5)


# -- the shipped plans ----------------------------------------------------------------------------


def test_free_is_spent_by_a_few_dozen_single_512_images():
    free = default_plans().plan_for("free")
    per_job = table_credits(job(width=512, height=512, num_images=1), "text_to_image")
    assert 24 <= free.budget.per_day / per_job <= 48
    assert free.rate.per_second == 5


def test_pro_is_generous_and_lets_a_user_wait_with_a_hundred_jobs():
    free, pro = default_plans().plan_for("free"), default_plans().plan_for("pro")
    assert pro.max_waiting_jobs >= 100 and pro.budget.per_day >= 20 * free.budget.per_day
    assert pro.caps.max_width > free.caps.max_width and pro.caps.allowed_models == "*"


# -- the caps -------------------------------------------------------------------------------------


def test_a_request_within_every_cap_passes():
    check_caps(default_plans().plan_for("free"), "text_to_image", job(width=512, height=512, num_images=2))


@pytest.mark.parametrize(
    ("fields", "cap", "limit"),
    [
        ({"num_images": 3, "width": 512, "height": 512}, "max_images_per_request", 2),
        ({"width": 1024, "height": 512}, "max_width", 768),
        ({"width": 512, "height": 1024}, "max_height", 768),
        ({"width": 512, "height": 512, "prompt": "a" * 501}, "max_prompt_length", 500),
        ({"width": 512, "height": 512, "negative_prompt": "b" * 501}, "max_prompt_length", 500),
    ],
    ids=["images", "width", "height", "prompt", "negative prompt"],
)
def test_a_request_over_a_cap_is_refused_naming_the_cap_and_its_limit(fields, cap, limit):
    refused = refusal("free", "text_to_image", job(**fields))
    assert (refused.code, refused.details) == ("plan_limit", {"cap": cap, "limit": limit})
    assert status_for(refused) == 422


def test_the_default_size_is_a_request_for_1024_and_is_over_free_caps_never_clamped():
    request = job()
    assert refusal("free", "text_to_image", request).cap == "max_width"
    assert request["width"] == 1024  # untouched


def test_a_model_outside_the_plan_is_refused():
    refused = refusal("free", "text_to_image", job(model_id=KINO_XL, width=512, height=512))
    assert refused.details == {"cap": "allowed_models"}


def test_photo_real_v1_without_a_model_is_refused_where_models_are_listed():
    refused = refusal("free", "text_to_image", job(photo_real=True, alchemy=True, width=512, height=512))
    assert refused.cap == "allowed_models" and "photoReal v1" in refused.message


def test_a_kind_outside_the_plan_is_refused():
    request = VariationRequest(type="unzoom").normalized(Source(job_id="j-1", index=0))
    refused = refusal("free", "unzoom", request)
    assert refused.details == {"cap": "allowed_kinds"} and "unzoom" in refused.message


def test_a_variations_prompt_is_under_the_prompt_cap():
    request = VariationRequest(type="universal_upscale", prompt="x" * 600).normalized(
        Source(job_id="j", index=0)
    )
    plans = load(document(**{"plans.free.caps.allowed_kinds": "*"}))
    with pytest.raises(PlanLimit, match="max_prompt_length"):
        check_caps(plans.plan_for("free"), "universal_upscale", request)


def test_pro_takes_what_free_refuses():
    pro = default_plans().plan_for("pro")
    check_caps(
        pro, "text_to_image", job(model_id=KINO_XL, width=1536, height=1024, num_images=4, prompt="a" * 1500)
    )
    check_caps(pro, "unzoom", VariationRequest(type="unzoom").normalized(Source(job_id="j", index=0)))


def test_the_first_cap_broken_is_the_one_named():
    refused = refusal("free", "text_to_image", job(model_id=KINO_XL, width=1024, height=1024, num_images=4))
    assert refused.cap == "allowed_models"


# ----- video caps (POST /v1/videos) -----------------------------------------------------------------

VIDEO_CAPS = {
    "plans.pro.caps.video_models": ["MOTION2", "MOTION2FAST"],
    "plans.pro.caps.max_video_seconds": 6,
    "plans.pro.caps.video_resolutions": ["480p"],
}


def video_caps_plan():
    return load_plans(json.dumps(document(**VIDEO_CAPS))).plan_for("pro")


@pytest.mark.parametrize(
    ("kind", "request_", "cap"),
    [
        ("text_to_video", {"prompt": "x", "model": "VEO3", "duration": 4}, "video_models"),
        ("image_to_video", {"prompt": "x", "model": "KLING2_5"}, "video_models"),
        ("text_to_video", {"prompt": "x", "model": "MOTION2", "resolution": "720p"}, "video_resolutions"),
    ],
)
def test_a_video_over_its_plans_video_caps_is_refused_naming_the_cap(kind, request_, cap):
    with pytest.raises(PlanLimit) as refused:
        check_caps(video_caps_plan(), kind, request_)
    assert refused.value.cap == cap


def test_a_clips_default_length_counts_against_the_plans_longest_clip():
    plan = load_plans(json.dumps(document(**{"plans.pro.caps.max_video_seconds": 6}))).plan_for("pro")
    check_caps(plan, "text_to_video", {"prompt": "x", "model": "VEO3", "duration": 6})
    with pytest.raises(PlanLimit) as refused:
        check_caps(plan, "text_to_video", {"prompt": "x", "model": "VEO3"})  # Veo 3's default: 8 s
    assert refused.value.cap == "max_video_seconds"


def test_the_shipped_plans_video_free_has_none_pro_has_every_model_up_to_ten_seconds():
    with pytest.raises(PlanLimit):
        check_caps(default_plans().plan_for("free"), "text_to_video", {"prompt": "x", "model": "MOTION2"})
    pro = default_plans().plan_for("pro")
    check_caps(pro, "text_to_video", {"prompt": "x", "model": "VEO3", "duration": 8, "resolution": "720p"})
    check_caps(pro, "motion", {"motion_strength": 5, "source": {"job_id": "j", "index": 0}})
    assert pro.caps.max_video_seconds == 10
