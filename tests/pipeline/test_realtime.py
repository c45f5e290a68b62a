"""The realtime canvas through the real API handler on moto and the simulator: a picture back in the
answer in one call, charged per call in the ledger, kept on request as an upload that a later job
starts from (handed to Leonardo as an init image)."""

from __future__ import annotations

import base64
import io
from decimal import Decimal

import pytest
from PIL import Image

from tests.pipeline.test_generation_flow import callback_for


def sketch(color=(200, 40, 40), size=(96, 96), fmt="JPEG") -> str:
    data = io.BytesIO()
    Image.new("RGB", size, color).save(data, format=fmt)
    kind = "jpeg" if fmt == "JPEG" else "png"
    return f"data:image/{kind};base64," + base64.b64encode(data.getvalue()).decode()


def usage(pipeline) -> dict:
    status, body = pipeline.api("GET", "/v1/usage")
    assert status == 200, body
    return body["day"]


def test_generate_then_refine_then_keep_and_a_job_starts_from_the_kept_picture(pipeline):
    body = {"image": sketch(), "prompt": "a red fox", "width": 512, "strength": 0.7}
    status, drawn = pipeline.api("POST", "/v1/realtime/generate", body=body)
    assert status == 200, drawn
    (first,) = drawn["pictures"]
    assert first.startswith("data:image/jpeg;base64,") and drawn["kept"] == []
    assert Decimal(drawn["cost"]["amount"]) > 0

    body = {"image": first, "prompt": "a red fox", "keep": True}
    status, refined = pipeline.api("POST", "/v1/realtime/refine", body=body)
    assert status == 200, refined
    (kept,) = refined["kept"]
    status, upload = pipeline.api("GET", f"/v1/uploads/{kept['upload_id']}")
    assert status == 200 and upload["status"] == "READY" and upload["content_type"] == "image/jpeg"

    body = {
        "prompt": "the fox at night",
        "width": 512,
        "height": 512,
        "source": {"upload_id": kept["upload_id"]},
    }
    status, job = pipeline.api("POST", "/v1/generations", body=body)
    assert status == 202, job
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    item = pipeline.job_item(job["id"])
    assert item["status"] == "SUBMITTED"
    [entry] = [g for g in pipeline.stack.simulator.generation_log() if g["id"] == item["generation_id"]]
    assert entry["initImageId"] in pipeline.stack.simulator.init_images  # handed over as an init image
    pipeline.wait_for_leonardo(item["generation_id"])
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    pipeline.drain("EventsQueue", "ProcessorFunction")
    assert pipeline.job_item(job["id"])["status"] == "COMPLETE"


def test_each_call_is_charged_in_the_ledger_and_nothing_stays_reserved(pipeline):
    before = usage(pipeline)
    for _ in range(3):
        status, _answer = pipeline.api(
            "POST", "/v1/realtime/generate", body={"image": sketch(), "prompt": "x"}
        )
        assert status == 200
    after = usage(pipeline)
    assert Decimal(after["spent"]) > Decimal(before["spent"]) and Decimal(after["reserved"]) == 0


def test_inpaint_takes_a_mask_and_upscale_its_refinement(pipeline):
    status, painted = pipeline.api("POST", "/v1/realtime/inpaint", body={
        "image": sketch(), "mask": sketch((255, 255, 255), fmt="PNG"), "prompt": "a hat"})  # fmt: skip
    assert status == 200 and painted["pictures"]
    status, larger = pipeline.api("POST", "/v1/realtime/upscale", body={
        "image": sketch(), "prompt": "a fox", "refine_creative": True, "refine_strength": 0.6})  # fmt: skip
    assert status == 200 and larger["pictures"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"image": "not a data url", "prompt": "x"}, "validation_error"),
        ({"image": "data:image/jpeg;base64," + base64.b64encode(b"GIF89a....").decode(), "prompt": "x"},
         "validation_error"),
        ({"image": sketch(), "prompt": "x", "width": 768}, "validation_error"),
        ({"image": sketch(), "prompt": "x", "steps": 20}, "validation_error"),
    ],
)  # fmt: skip
def test_a_call_outside_the_caps_is_refused_and_costs_nothing(pipeline, body, code):
    before = usage(pipeline)
    status, answer = pipeline.api("POST", "/v1/realtime/generate", body=body)
    assert status == 422 and answer["error"]["code"] == code
    assert usage(pipeline) == before and pipeline.stack.simulator.stats().get("lcm_calls", 0) == 0


def test_a_kept_picture_is_upscaled_by_the_universal_upscaler_as_an_init_image(pipeline):
    body = {"image": sketch(), "prompt": "a red fox", "keep": True}
    status, drawn = pipeline.api("POST", "/v1/realtime/generate", body=body)
    (kept,) = drawn["kept"]
    status, job = pipeline.api(
        "POST", f"/v1/uploads/{kept['upload_id']}/upscale", body={"creativity_strength": 3}
    )
    assert status == 202 and job["kind"] == "universal_upscale", job
    assert job["source"] == {"upload_id": kept["upload_id"]}
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    item = pipeline.job_item(job["id"])
    assert item["status"] == "SUBMITTED", item
    [entry] = [v for v in pipeline.stack.simulator.variation_log() if v["id"] == item["generation_id"]]
    assert entry["request"]["initImageId"] in pipeline.stack.simulator.init_images


def test_only_the_universal_upscaler_upscales_an_upload(pipeline):
    body = {"image": sketch(), "prompt": "a red fox", "keep": True}
    (kept,) = pipeline.api("POST", "/v1/realtime/generate", body=body)[1]["kept"]
    status, answer = pipeline.api(
        "POST", f"/v1/uploads/{kept['upload_id']}/upscale", body={"type": "upscale"}
    )
    assert status == 422 and answer["error"]["code"] == "validation_error"
    status, answer = pipeline.api("POST", f"/v1/uploads/{kept['upload_id']}/upscale", body={}, user="mallory")
    assert status == 404 and answer["error"]["code"] == "not_found"  # another user's: as any path id
