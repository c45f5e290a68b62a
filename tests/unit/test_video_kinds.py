"""How each video kind is sent (domain/kinds/video.py): its motion route, its body in Leonardo's
names, the source image as Leonardo knows it, and what an unanswered POST means (never adopted)."""

from __future__ import annotations

import pytest

from gencore.domain.estimates import pricing_query, table_credits
from gencore.domain.kinds import Refs, kind_of
from gencore.domain.video_requests import VideoRequest

pytestmark = pytest.mark.unit
GENERATED, INIT = "gen-image-1", "init-image-1"
IMAGE = {"job_id": "0c6a7a7e-3d0e-4b53-9f39-1e2a2b9d8c11", "index": 0}


NO_REFS = Refs()


def call(body: dict, refs: Refs = NO_REFS, seed: int | None = None):
    request = VideoRequest.model_validate(body)
    return kind_of(request.kind).build(request.normalized(), refs, seed)


def test_text_to_video_goes_to_its_route_in_leonardos_names_and_never_public():
    sent = call({"mode": "text_to_video", "prompt": "waves", "negative_prompt": "text", "model": "VEO3",
                 "duration": 6, "resolution": "720p", "frame_interpolation": True}, seed=42)  # fmt: skip
    assert sent.route == "/generations-text-to-video"
    assert sent.body == {
        "prompt": "waves", "negativePrompt": "text", "model": "VEO3", "duration": 6,
        "resolution": "RESOLUTION_720", "frameInterpolation": True, "seed": 42, "isPublic": False,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("refs", "image"),
    [
        (Refs(generated_image_id=GENERATED), (GENERATED, "GENERATED")),
        (Refs(init_image_id=INIT), (INIT, "UPLOADED")),
    ],
    ids=["one of our images", "an upload"],
)
def test_image_to_video_names_its_first_frame_as_leonardo_knows_it(refs, image):
    sent = call({"mode": "image_to_video", "prompt": "slowly", "source": IMAGE}, refs)
    assert sent.route == "/generations-image-to-video"
    assert (sent.body["imageId"], sent.body["imageType"]) == image and sent.body["model"] == "MOTION2"


def test_the_svd_motion_takes_the_image_its_strength_and_says_what_kind_of_image_it_is():
    assert call({"mode": "motion", "source": IMAGE, "motion_strength": 6}, Refs(init_image_id=INIT)).body == {
        "imageId": INIT, "isInitImage": True, "motionStrength": 6, "isPublic": False,
    }  # fmt: skip
    variation = call(
        {"mode": "motion", "source": IMAGE}, Refs(generated_image_id=GENERATED, from_variation=True)
    )
    assert variation.route == "/generations-motion-svd"
    assert variation.body == {"imageId": GENERATED, "isVariation": True, "isPublic": False}


@pytest.mark.parametrize("kind", ["text_to_video", "image_to_video", "motion"])
def test_a_video_is_polled_never_adopted_and_its_output_is_the_clip(kind):
    declared = kind_of(kind)
    assert (declared.remote, declared.adopts, declared.webhook, declared.output) == (
        "video",
        False,
        False,
        "video",
    )


def test_only_the_svd_motion_animates_a_variations_output():
    assert [k for k in ("text_to_video", "image_to_video", "motion") if kind_of(k).takes_variation] == [
        "motion"
    ]


@pytest.mark.parametrize(
    ("request_", "kind", "credits", "service"),
    [
        ({}, "motion", 45, "MOTION_SVD_GENERATION"),
        ({"model": "MOTION2", "resolution": "480p"}, "text_to_video", 100, "MOTION_VIDEO_GENERATION"),
        ({"model": "VEO3"}, "text_to_video", 1600, "VEO3_MOTION_VIDEO_GENERATION"),
        ({"model": "VEO3", "duration": 4}, "image_to_video", 800, None),  # the calculator takes no duration
        ({"model": "KLING2_5", "duration": 10}, "image_to_video", 800, None),  # nor Kling
        ({"model": "KLING2_1", "resolution": "1080p"}, "image_to_video", 600, None),
    ],
)
def test_a_clip_is_estimated_by_the_calculator_where_it_prices_it_else_by_our_table(
    request_, kind, credits, service
):
    assert table_credits(request_, kind) == credits
    query = pricing_query(request_, kind)
    assert (query.service if query else None) == service
