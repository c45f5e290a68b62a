"""The body of POST /v1/videos (domain/video_requests.py): one mode per job kind, Leonardo's
documented rules named when broken (422 invalid_combination), and what a video job stores."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gencore.domain.video_requests import VideoRequest

pytestmark = pytest.mark.unit
IMAGE = {"job_id": "0c6a7a7e-3d0e-4b53-9f39-1e2a2b9d8c11", "index": 0}
UPLOAD = {"upload_id": "5b1e7c2a-4f3d-4e8a-9c6b-2d1f0e9a8b7c"}


def refused(**body) -> tuple[str, str]:
    with pytest.raises(ValidationError) as error:
        VideoRequest.model_validate(body)
    first = error.value.errors()[0]
    return first["type"], (first.get("ctx") or {}).get("rule", "")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"mode": "text_to_video", "prompt": "waves at dusk"}, "text_to_video"),
        ({"mode": "image_to_video", "prompt": "slowly", "source": IMAGE}, "image_to_video"),
        ({"mode": "image_to_video", "prompt": "slowly", "source": UPLOAD, "model": "KLING2_5",
          "duration": 10}, "image_to_video"),
        ({"mode": "motion", "source": IMAGE, "motion_strength": 7}, "motion"),
    ],
)  # fmt: skip
def test_each_mode_is_a_job_kind_of_its_own(body, kind):
    assert VideoRequest.model_validate(body).kind == kind


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"mode": "text_to_video"}, "prompt_required"),
        ({"mode": "text_to_video", "prompt": "x", "source": IMAGE}, "text_to_video_no_source"),
        ({"mode": "image_to_video", "prompt": "x"}, "source_required"),
        ({"mode": "motion"}, "source_required"),
        ({"mode": "motion", "source": IMAGE, "prompt": "x"}, "motion_options"),
        ({"mode": "text_to_video", "prompt": "x", "motion_strength": 3}, "motion_strength_motion_only"),
        ({"mode": "image_to_video", "prompt": "x",
          "source": UPLOAD | {"mask_upload_id": UPLOAD["upload_id"]}}, "video_no_mask"),
        # duration only where the document allows it, and only its values
        ({"mode": "text_to_video", "prompt": "x", "duration": 8}, "duration_model"),  # MOTION2: none
        ({"mode": "text_to_video", "prompt": "x", "model": "VEO3", "duration": 5}, "duration_model"),
        ({"mode": "text_to_video", "prompt": "x", "model": "KLING2_5", "duration": 5}, "duration_model"),
        ({"mode": "image_to_video", "prompt": "x", "source": IMAGE, "model": "KLING2_5", "duration": 8},
         "duration_model"),
        ({"mode": "text_to_video", "prompt": "x", "seed": 2_147_483_638}, "seed_model"),
        ({"mode": "text_to_video", "prompt": "x", "resolution": "1080p"}, "resolution_model"),  # MOTION2
        ({"mode": "text_to_video", "prompt": "x", "model": "VEO3", "resolution": "480p"}, "resolution_model"),
    ],
)  # fmt: skip
def test_a_broken_rule_is_refused_by_its_name(body, rule):
    assert refused(**body) == ("invalid_combination", rule)


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "text_to_video", "prompt": "x", "model": "VEO_3"},  # the document's example spelling
        {"mode": "text_to_video", "prompt": "x", "resolution": "RESOLUTION_720"},  # ours: 720p
        {"mode": "motion", "source": IMAGE, "motion_strength": 11},
        {"mode": "slideshow", "prompt": "x"},
        {"mode": "text_to_video", "prompt": "x", "end_frame": IMAGE},  # not offered yet
    ],
)
def test_values_outside_the_documents_are_validation_errors(body):
    assert refused(**body)[0] != "invalid_combination"


def test_a_veo3_seed_may_go_past_motion2s_limit():
    assert VideoRequest(mode="text_to_video", prompt="x", model="VEO3", seed=4_294_967_293).seed


def test_the_job_stores_the_model_it_runs_on_and_the_clips_length():
    clip = VideoRequest(mode="text_to_video", prompt="waves", resolution="480p")
    assert clip.normalized() == {"prompt": "waves", "resolution": "480p", "model": "MOTION2"}
    assert (clip.seconds, VideoRequest(mode="text_to_video", prompt="w", model="VEO3").seconds) == (5, 8)
    motion = VideoRequest(mode="motion", source=IMAGE, motion_strength=4)
    assert motion.normalized() == {"motion_strength": 4, "source": IMAGE} and motion.model_name is None
