"""Canvas jobs (inpaint, outpaint, sketch-to-image) through the API function: an init image and a
mask, both uploads of the caller, checked before anything is paid."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from tests.support.uploads import post_form

from .test_uploads import create_upload, ready_upload

pytestmark = pytest.mark.integration


UPLOAD_A, UPLOAD_B = "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11", "1b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"


def mask_png(size=(64, 64), painted=(16, 16, 47, 47), fill=255) -> bytes:
    image = Image.new("L", size, 0)
    ImageDraw.Draw(image).rectangle(painted, fill=fill)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def canvas_body(init: dict, mask: dict, mode: str = "inpaint") -> dict:
    return {"prompt": "a red door", "width": 512, "height": 512, "canvas": {"mode": mode},
            "source": {"upload_id": init["id"], "mask_upload_id": mask["id"]}}  # fmt: skip


# canvas.mode -> the job's kind (img2img on the canvas is image-to-image)
MODES = [
    ("inpaint", "inpaint"),
    ("outpaint", "outpaint"),
    ("sketch2img", "sketch2img"),
    ("img2img", "image_to_image"),
]


@pytest.mark.parametrize(("mode", "kind"), MODES)
def test_a_canvas_job_is_accepted_with_its_init_image_and_mask_as_lineage(pipeline, mode, kind):
    init, mask = ready_upload(pipeline), ready_upload(pipeline, mask_png(), purpose="mask")
    assert mask["purpose"] == "mask"
    status, job = pipeline.api("POST", "/v1/generations", body=canvas_body(init, mask, mode))
    assert status == 202, job
    assert job["kind"] == kind and job["source"] == {"upload_id": init["id"], "mask_upload_id": mask["id"]}


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (mask_png(fill=0), "mask_empty"),
        (mask_png(painted=(0, 0, 63, 63)), "mask_full"),
    ],
)
def test_a_mask_that_marks_nothing_or_everything_is_refused_at_completion(pipeline, content, code):
    upload = create_upload(pipeline, purpose="mask")
    post_form(upload["upload"], content)
    status, body = pipeline.api("POST", f"/v1/uploads/{upload['id']}/complete")
    assert status == 422 and body["error"]["code"] == code


def test_a_mask_of_another_size_than_the_image_is_refused_before_any_paid_call(pipeline):
    init, mask = ready_upload(pipeline), ready_upload(pipeline, mask_png(size=(64, 72)), purpose="mask")
    status, body = pipeline.api("POST", "/v1/generations", body=canvas_body(init, mask))
    assert status == 422 and body["error"]["code"] == "mask_size_mismatch"
    assert pipeline.receive("SubmitQueue") == []


def test_uploads_are_used_only_for_what_they_were_made_for(pipeline):
    init, mask = ready_upload(pipeline), ready_upload(pipeline, mask_png(), purpose="mask")
    status, body = pipeline.api("POST", "/v1/generations", body=canvas_body(mask, init))
    assert status == 422 and body["error"]["code"] == "upload_wrong_purpose"
    status, body = pipeline.api(
        "POST", "/v1/generations", body={"prompt": "x", "source": {"upload_id": mask["id"]}}
    )
    assert status == 422 and body["error"]["code"] == "upload_wrong_purpose"


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"prompt": "x", "canvas": {"mode": "inpaint"}}, "canvas_needs_init_and_mask"),
        ({"prompt": "x", "source": {"upload_id": UPLOAD_A, "mask_upload_id": UPLOAD_B}}, "mask_needs_canvas"),
    ],
)  # fmt: skip
def test_canvas_and_mask_go_together(pipeline, body, rule):
    status, answer = pipeline.api("POST", "/v1/generations", body=body)
    assert status == 422 and answer["error"]["code"] == "invalid_combination"
    assert answer["error"]["details"][0]["rule"] == rule


def test_an_inpaint_hands_both_files_to_leonardo_once_and_completes(pipeline):
    from .test_edits import complete

    init, mask = ready_upload(pipeline), ready_upload(pipeline, mask_png(), purpose="mask")
    status, job = pipeline.api("POST", "/v1/generations", body=canvas_body(init, mask))
    assert status == 202
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    item = pipeline.job_item(job["id"])
    assert item["status"] == "SUBMITTED"
    [entry] = [g for g in pipeline.stack.simulator.generation_log() if g["id"] == item["generation_id"]]
    sent = entry["request"]
    assert sent["canvasRequest"] is True and sent["canvasRequestType"] == "INPAINT"
    uploaded = pipeline.stack.simulator.init_images
    assert uploaded[sent["canvasInitId"]].content and uploaded[sent["canvasMaskId"]].content
    assert len(uploaded) == 2  # one exchange: the init image and its mask

    # A second job from the same pair uses the copies Leonardo already has.
    pipeline.api("POST", "/v1/generations", body=canvas_body(init, mask) | {"prompt": "a blue door"})
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    assert len(pipeline.stack.simulator.init_images) == 2

    pipeline.wait_for_leonardo(item["generation_id"])
    done = complete(pipeline, item)
    assert done["kind"] == "inpaint" and done["source"] == {
        "upload_id": init["id"],
        "mask_upload_id": mask["id"],
    }


def test_deleting_the_mask_deletes_leonardos_copies_of_the_pair(pipeline):
    init, mask = ready_upload(pipeline), ready_upload(pipeline, mask_png(), purpose="mask")
    pipeline.api("POST", "/v1/generations", body=canvas_body(init, mask))
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    assert len(pipeline.stack.simulator.init_images) == 2
    assert pipeline.api("DELETE", f"/v1/uploads/{mask['id']}")[0] == 200
    assert len(pipeline.stack.simulator.init_images) == 0
