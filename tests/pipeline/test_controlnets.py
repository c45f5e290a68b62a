"""ControlNets (image guidance) through the API and the submitter: each guide is one of the caller's
READY uploads, checked at accept like a source, handed to Leonardo as an init image at submit (once
per upload), and named in `controlnets[].initImageId` with its preprocessor and weight."""

from __future__ import annotations

import pytest

from .test_edits import complete, leonardo_request
from .test_uploads import ready_upload

pytestmark = pytest.mark.integration
UNKNOWN_UPLOAD = "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"


def guided(*nets: dict, **fields) -> dict:
    return {"prompt": "a castle", "width": 512, "height": 512, "controlnets": list(nets)} | fields


def test_controlnet_uploads_are_handed_to_leonardo_once_and_the_job_completes(pipeline):
    style, depth = ready_upload(pipeline), ready_upload(pipeline)
    nets = ({"upload_id": style["id"], "preprocessor_id": 67, "strength_type": "High"},
            {"upload_id": depth["id"], "preprocessor_id": 19, "weight": 0.6})  # fmt: skip
    status, job = pipeline.api("POST", "/v1/generations", body=guided(*nets))
    assert status == 202, job
    assert job["request"]["controlnets"] == [
        {"upload_id": style["id"], "preprocessor_id": 67, "weight": None, "strength_type": "High"},
        {"upload_id": depth["id"], "preprocessor_id": 19, "weight": 0.6, "strength_type": None},
    ]
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    item = pipeline.job_item(job["id"])
    assert item["status"] == "SUBMITTED", item
    sent = leonardo_request(pipeline, item["generation_id"])["controlnets"]
    uploaded = pipeline.stack.simulator.init_images
    assert [net["initImageType"] for net in sent] == ["UPLOADED", "UPLOADED"]
    assert [(n["preprocessorId"], n.get("weight"), n.get("strengthType")) for n in sent] == [
        (67, None, "High"),
        (19, 0.6, None),
    ]
    assert all(uploaded[net["initImageId"]].content for net in sent) and len(uploaded) == 2

    # The same upload guiding another job is not handed over again.
    pipeline.api("POST", "/v1/generations", body=guided(nets[0], prompt="a tower"))
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    assert len(pipeline.stack.simulator.init_images) == 2

    pipeline.wait_for_leonardo(item["generation_id"])
    assert complete(pipeline, item)["status"] == "COMPLETE"


@pytest.mark.parametrize("owner", ["nobody", "bob"])
def test_a_guide_that_is_not_the_callers_upload_is_refused_before_anything_is_paid(pipeline, owner):
    upload_id = UNKNOWN_UPLOAD if owner == "nobody" else ready_upload(pipeline, user="bob")["id"]
    status, body = pipeline.api(
        "POST", "/v1/generations", body=guided({"upload_id": upload_id, "preprocessor_id": 67})
    )
    assert status == 422 and body["error"]["code"] == "upload_not_found"
    assert pipeline.receive("SubmitQueue") == []


def test_a_guide_breaking_the_image_guidance_rules_is_refused_by_name(pipeline):
    guide = ready_upload(pipeline)
    status, body = pipeline.api(
        "POST", "/v1/generations",
        body=guided({"upload_id": guide["id"], "preprocessor_id": 19}, source={"upload_id": guide["id"]}),
    )  # fmt: skip
    assert status == 422 and body["error"]["code"] == "invalid_combination"
    assert body["error"]["details"][0]["rule"] == "controlnet_with_init_image"


def test_a_guide_deleted_before_the_submit_fails_the_job_unpaid(pipeline):
    guide = ready_upload(pipeline)
    status, job = pipeline.api(
        "POST", "/v1/generations", body=guided({"upload_id": guide["id"], "preprocessor_id": 67})
    )
    assert status == 202
    assert pipeline.api("DELETE", f"/v1/uploads/{guide['id']}")[0] == 200
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    status, failed = pipeline.api("GET", f"/v1/generations/{job['id']}")
    assert failed["status"] == "FAILED" and failed["error"]["code"] == "upload_unavailable"
    assert pipeline.stack.simulator.generation_log() == []
