"""Editing one of our own outputs, through the functions against moto and the Leonardo simulator:
the edit names the image by the id Leonardo gave it (`init_generation_image_id`), runs like any
generation, and its view leads back to the job and image it came from."""

from __future__ import annotations

import pytest

from .test_generation_flow import callback_for, submit_one

pytestmark = pytest.mark.integration


def complete(pipeline, item: dict) -> dict:
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    pipeline.drain("EventsQueue", "ProcessorFunction")
    status, job = pipeline.api("GET", f"/v1/generations/{item['id']}")
    assert status == 200 and job["status"] == "COMPLETE", job
    return job


def leonardo_request(pipeline, generation_id: str) -> dict:
    [entry] = [g for g in pipeline.stack.simulator.generation_log() if g["id"] == generation_id]
    return entry["request"]


def test_an_edit_of_our_image_is_generated_from_leonardos_copy_and_keeps_its_lineage(pipeline):
    original = complete(pipeline, submit_one(pipeline))
    body = {"prompt": "the same lighthouse, at night", "width": 256, "height": 192, "init_strength": 0.35,
            "source": {"job_id": original["id"], "index": 1}}  # fmt: skip
    status, edit = pipeline.api("POST", "/v1/generations", body=body)
    assert (
        status == 202 and edit["kind"] == "edit" and edit["source"] == {"job_id": original["id"], "index": 1}
    )

    pipeline.drain("SubmitQueue", "SubmitterFunction")
    item = pipeline.job_item(edit["id"])
    sent = leonardo_request(pipeline, item["generation_id"])
    assert sent["init_generation_image_id"] == original["images"][1]["leonardo_image_id"]
    assert sent["init_strength"] == 0.35 and "init_image_id" not in sent
    assert len(pipeline.stack.simulator.init_images) == 0  # nothing uploaded: Leonardo has the image

    pipeline.wait_for_leonardo(item["generation_id"])
    done = complete(pipeline, item)
    assert done["source"] == {"job_id": original["id"], "index": 1} and len(done["images"]) == 1


def test_an_edit_of_a_job_not_finished_is_refused_like_any_unusable_source(pipeline):
    item = submit_one(pipeline)  # SUBMITTED, not COMPLETE
    body = {"prompt": "x", "source": {"job_id": item["id"], "index": 0}}
    status, answer = pipeline.api("POST", "/v1/generations", body=body)
    assert status == 422 and answer["error"]["code"] == "source_not_usable"
    status, answer = pipeline.api("POST", "/v1/generations", body=body, user="bob")
    assert status == 422 and answer["error"] == {
        "code": "source_not_usable", "message": "No such image among your finished generations"
    }  # fmt: skip
