"""Draft vs final, read as a specification (domain/quality.py, docs/parameters.md "Quality presets"):
`quality` fills the fields the caller left unset from one table, before the rules, the caps and
the estimate; the caller's fields always win, and the preset never makes a request refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from gencore.domain.errors import PlanLimit
from gencore.domain.estimates import Estimator, pricing_query, table_credits
from gencore.domain.model_catalog import DEFAULT_MODEL_ID
from gencore.domain.parameters import ImageParameters, check_rules
from gencore.domain.plans import check_caps, default_plans
from gencore.domain.quality import PRESETS, apply_quality
from gencore.domain.recipes import to_leonardo
from gencore.domain.requests import ImageGenerationRequest
from tests.unit.test_estimates import FakePriceCache

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
CREATIVE = "6bef9f1b-29cb-40c7-b9df-32b51c1f67d3"  # SD 2.1
KINO_XL = "aa77f04e-3eec-4034-9c07-d0f619684628"
PROMPT = "a lighthouse at dawn"


def stored(**fields) -> dict:
    """The request as the job stores it (and the estimate prices it)."""
    return ImageGenerationRequest.model_validate({"prompt": PROMPT} | fields).normalized()


def rule_of(**fields) -> str:
    with pytest.raises(ValidationError) as refused:
        ImageGenerationRequest.model_validate({"prompt": PROMPT} | fields)
    [problem] = refused.value.errors()
    assert problem["type"] == "invalid_combination", problem
    return problem["ctx"]["rule"]


def estimate(request: dict):
    return Estimator(FakePriceCache(), lambda: datetime(2026, 12, 4, tzinfo=UTC)).estimate(
        request, "text_to_image"
    )


# --- the table ----------------------------------------------------------------------------------


def test_draft_is_lightning_xl_at_512x512_without_alchemy_in_10_steps():
    request = stored(quality="draft")
    names = ("model_id", "width", "height", "alchemy", "num_inference_steps")
    assert {name: request[name] for name in names} == {
        "model_id": DEFAULT_MODEL_ID, "width": 512, "height": 512, "alchemy": False,
        "num_inference_steps": 10,
    }  # fmt: skip
    assert request["quality"] == "draft"


def test_final_is_1024x1024_with_alchemy_on_the_callers_model():
    request = stored(quality="final", model_id=KINO_XL)
    assert (request["model_id"], request["width"], request["height"], request["alchemy"]) == (
        KINO_XL, 1024, 1024, True,
    )  # fmt: skip
    assert request["num_inference_steps"] is None and request["quality"] == "final"


@pytest.mark.parametrize("quality", sorted(PRESETS))
def test_each_preset_applies_every_line_of_its_table_to_a_bare_request(quality):
    request = stored(quality=quality)
    for setting in PRESETS[quality]:
        assert {name: request[name] for name in setting.fields} == dict(setting.fields)


@pytest.mark.parametrize("quality", sorted(PRESETS))
def test_each_line_of_the_table_is_a_parameter_and_breaks_no_rule(quality):
    fields = {name: value for setting in PRESETS[quality] for name, value in setting.fields.items()}
    assert set(fields) <= set(ImageParameters.model_fields)
    check_rules(ImageParameters(prompt=PROMPT, **fields))


def test_every_line_is_documented_in_docs_parameters():
    doc = (ROOT / "docs/parameters.md").read_text()
    section = doc.split("## Quality presets", 1)[1].split("\n## ", 1)[0]
    for quality, settings in PRESETS.items():
        for setting in settings:
            for name, value in setting.fields.items():
                shown = str(value).lower() if isinstance(value, bool) else str(value)
                line = f"`{quality}`.*`{name}`.*{re.escape(shown)}"
                assert re.search(line, section), (quality, name, value)
    assert all(setting.why for settings in PRESETS.values() for setting in settings)


def test_a_request_without_quality_stores_as_it_always_did():
    assert "quality" not in stored()
    assert stored() == stored(quality=None)


def test_an_unknown_quality_is_refused():
    with pytest.raises(ValidationError) as refused:
        ImageGenerationRequest.model_validate({"prompt": PROMPT, "quality": "best"})
    assert refused.value.errors()[0]["loc"] == ("quality",)


def test_quality_never_reaches_leonardo():
    body = to_leonardo(stored(quality="draft"))
    assert "quality" not in body
    assert (body["width"], body["alchemy"], body["num_inference_steps"]) == (512, False, 10)


# --- the caller's fields win ----------------------------------------------------------------------


def test_a_field_the_caller_set_is_never_changed():
    request = stored(quality="draft", width=768, height=640, alchemy=True, model_id=CREATIVE,
                     num_inference_steps=30)  # fmt: skip
    assert (request["width"], request["height"], request["alchemy"], request["model_id"]) == (
        768, 640, True, CREATIVE,
    )  # fmt: skip
    assert request["num_inference_steps"] == 30


def test_the_size_is_one_line_applied_only_when_neither_side_is_set():
    request = stored(quality="draft", width=768)
    assert (request["width"], request["height"]) == (768, 1024)  # the default height, not half a preset


def test_a_line_that_would_break_a_rule_with_the_callers_fields_is_left_out():
    # CINEMATIC needs alchemy on a non-alchemy request: draft's "alchemy off" yields, the rest applies.
    request = stored(quality="draft", preset_style="CINEMATIC")
    assert request["alchemy"] is None and (request["width"], request["num_inference_steps"]) == (512, 10)
    # photoReal v1 runs without a model and needs alchemy: neither line applies.
    request = stored(quality="draft", photo_real=True)
    assert request["model_id"] is None and request["alchemy"] is None and request["width"] == 512
    # Ultra cannot go with alchemy: final's "alchemy on" yields (settled as false, as without a preset).
    request = stored(quality="final", model_id=PHOENIX, ultra=True)
    assert request["alchemy"] is False and request["ultra"] is True


def test_the_preset_never_refuses_a_request_that_would_be_accepted_without_it():
    accepted = [
        {"preset_style": "DYNAMIC"}, {"photo_real": True}, {"model_id": PHOENIX, "ultra": True},
        {"model_id": CREATIVE, "contrast_ratio": 0.5}, {"expanded_domain": True},
        {"photo_real": True, "photo_real_version": "v2", "model_id": KINO_XL},
        {"num_images": 8, "width": 512, "height": 512},
    ]  # fmt: skip
    for fields in accepted:
        stored(**fields)
        for quality in PRESETS:
            stored(quality=quality, **fields)


# --- the rules and the caps still apply -----------------------------------------------------------


def test_a_rule_the_callers_own_fields_break_is_still_refused_by_name():
    assert rule_of(quality="final", model_id=PHOENIX, ultra=True, alchemy=True) == "ultra_with_alchemy"
    assert rule_of(quality="draft", contrast=3.5) == "contrast_model"  # Lightning XL takes no contrast
    assert rule_of(quality="draft", photo_real=True, alchemy=False) == "photo_real_needs_alchemy"


def test_the_plans_caps_see_the_presets_settings():
    free = default_plans().plan_for("free")
    check_caps(free, "text_to_image", stored(quality="draft"))  # 512x512 fits the free plan
    with pytest.raises(PlanLimit):  # final's 1024x1024 is over free's 768: refused, never shrunk
        check_caps(free, "text_to_image", stored(quality="final"))


# --- the estimate reflects the mode ---------------------------------------------------------------


def test_the_same_prompt_costs_less_as_a_draft_than_as_a_final():
    draft, final = estimate(stored(quality="draft")), estimate(stored(quality="final"))
    assert (draft.amount, final.amount) == (15, 40)  # Lightning XL at 512x512 vs 1024x1024 (table)
    assert draft.source == final.source == "table"


def test_on_an_sd_model_a_draft_drops_alchemy_from_the_price():
    draft = table_credits(stored(quality="draft", model_id=CREATIVE), "text_to_image")
    final = table_credits(stored(quality="final", model_id=CREATIVE), "text_to_image")
    assert (draft, final) == (7, 44)  # Stable Diffusion 2.1 at 512x512; + Alchemy at 1024x1024


def test_the_pricing_calculator_is_asked_about_the_presets_settings():
    draft = pricing_query(stored(quality="draft"), "text_to_image")
    final = pricing_query(stored(quality="final"), "text_to_image")
    assert draft is not None and final is not None and draft.key != final.key
    assert {k: draft.params[k] for k in ("imageWidth", "alchemyMode", "inferenceSteps")} == {
        "imageWidth": 512, "alchemyMode": False, "inferenceSteps": 10,
    }  # fmt: skip
    assert (final.params["imageWidth"], final.params["alchemyMode"]) == (1024, True)


def test_apply_quality_leaves_a_body_without_a_preset_alone():
    body = {"prompt": PROMPT, "quality": ["draft"]}
    assert apply_quality(body) is body and apply_quality({"prompt": PROMPT}) == {"prompt": PROMPT}
