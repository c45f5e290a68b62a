"""Video jobs through the real handlers on moto and the simulator: POST /v1/videos, the motion route
called once, the job completed by the reconciler's polls (no webhook), the clip (a real MP4) copied
to our bucket as the job's output, lineage to the source image."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.pipeline.test_generation_flow import _make_due, submit_one
from tests.simulator.mp4box import read_mp4

IMAGE_PROMPT = {"prompt": "a lighthouse", "width": 256, "height": 192, "num_images": 1}


def sent_for(pipeline, job_id: str) -> dict:
    """The body Leonardo received for the job's generation (the simulator's log)."""
    generation_id = pipeline.job_item(job_id)["generation_id"]
    [entry] = [g for g in pipeline.stack.simulator.generation_log() if g["id"] == generation_id]
    return entry["request"]


def finish_by_polling(pipeline, job_id: str) -> dict:
    """The job's generation finishes at Leonardo; the reconciler finds it (no webhook) and the
    processor copies the clip."""
    item = pipeline.job_item(job_id)
    assert item["status"] == "SUBMITTED", item
    pipeline.wait_for_leonardo(item["generation_id"])
    _make_due(pipeline, job_id)
    pipeline.reconcile()
    pipeline.drain("EventsQueue", "ProcessorFunction")
    status, job = pipeline.api("GET", f"/v1/generations/{job_id}")
    assert status == 200
    return job


def clip_of(pipeline, job: dict) -> bytes:
    (output,) = job["images"]
    key = output["url"].split("?")[0].split("/", 3)[3].split("/", 1)[1]
    obj = pipeline.s3.get_object(Bucket=pipeline.stack.env["OUTPUT_BUCKET"], Key=key)
    assert obj["ContentType"] == "video/mp4"
    return obj["Body"].read()


def test_text_to_video_ends_with_a_playable_clip_in_our_bucket(pipeline):
    status, job = pipeline.api(
        "POST", "/v1/videos", body={"mode": "text_to_video", "prompt": "waves at dusk", "model": "VEO3",
                                    "duration": 4}, plan="unlimited",
    )  # fmt: skip
    assert status == 202 and job["kind"] == "text_to_video" and job["status"] == "QUEUED"
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    sent = sent_for(pipeline, job["id"])
    assert sent["model"] == "VEO3" and sent["duration"] == 4 and sent["isPublic"] is False
    done = finish_by_polling(pipeline, job["id"])
    assert done["status"] == "COMPLETE", done
    clip = read_mp4(clip_of(pipeline, done))
    assert clip.seconds > 0 and clip.samples
    (output,) = done["images"]
    assert output["content_type"] == "video/mp4" and output["size"] > 0 and len(output["sha256"]) == 64
    assert Decimal(done["cost"]["amount"]) > 0 and done["cost"]["source"] == "leonardo"


def test_image_to_video_from_one_of_our_images_names_it_generated_and_keeps_the_lineage(pipeline):
    image_job = submit_one(pipeline, body=IMAGE_PROMPT)
    from tests.pipeline.test_generation_flow import callback_for

    pipeline.webhook(callback_for(pipeline, image_job["generation_id"]))
    pipeline.drain("EventsQueue", "ProcessorFunction")
    source = {"job_id": image_job["id"], "index": 0}
    status, job = pipeline.api(
        "POST", "/v1/videos", body={"mode": "image_to_video", "prompt": "slowly", "source": source},
        plan="unlimited",
    )  # fmt: skip
    assert status == 202, job
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    sent = sent_for(pipeline, job["id"])
    leonardo_image = pipeline.job_item(image_job["id"])["images"][0]["leonardo_image_id"]
    assert (sent["imageId"], sent["imageType"]) == (leonardo_image, "GENERATED")
    done = finish_by_polling(pipeline, job["id"])
    assert done["status"] == "COMPLETE" and done["source"] == source
    assert read_mp4(clip_of(pipeline, done)).samples


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {"mode": "image_to_video", "prompt": "x", "source": {"job_id": "nope", "index": 0}},
            "source_not_usable",
        ),
        ({"mode": "text_to_video", "prompt": "x", "duration": 6}, "invalid_combination"),
    ],
)
def test_a_video_that_cannot_be_made_is_refused_before_anything_is_stored(pipeline, body, code):
    status, answer = pipeline.api("POST", "/v1/videos", body=body, plan="unlimited")
    assert status == 422 and answer["error"]["code"] == code
    assert pipeline.receive("SubmitQueue") == []


def test_the_free_plan_does_not_include_video(pipeline):
    status, answer = pipeline.api(
        "POST", "/v1/videos", body={"mode": "text_to_video", "prompt": "x"}, plan="free"
    )
    assert status == 422 and answer["error"]["code"] == "plan_limit"
