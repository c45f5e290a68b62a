"""Variations of one of our images through the functions, against moto and the Leonardo simulator:
a new job whose paid call names Leonardo's image, followed by the reconciler's polls (Leonardo
sends no webhook for variations), its one output copied like any other, its lineage in its view."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from leonardo_simulator import FaultConfig
from tests.simulator.helpers import wait_for

from .test_edits import complete
from .test_generation_flow import _make_due, submit_one

pytestmark = pytest.mark.integration
UNIVERSAL = {"type": "universal_upscale", "upscaler_style": "CINEMATIC", "creativity_strength": 4}
UNIVERSAL |= {"multiplier": 1.5}


def variation_of(pipeline, job: dict, index: int = 0, **body) -> tuple[int, dict]:
    return pipeline.api("POST", f"/v1/generations/{job['id']}/images/{index}/variations", body=body)


def finish_by_polling(pipeline, job_id: str) -> dict:
    """The reconciler finds the variation finished at Leonardo and the processor copies it."""
    variation_id = pipeline.job_item(job_id)["generation_id"]

    def finished() -> bool:
        [logged] = [v for v in pipeline.stack.simulator.variation_log() if v["id"] == variation_id]
        return logged["status"] != "PENDING"

    wait_for(finished)
    _make_due(pipeline, job_id)
    assert pipeline.reconcile()["outcomes"].get("recovered") == 1
    pipeline.drain("EventsQueue", "ProcessorFunction")
    status, job = pipeline.api("GET", f"/v1/generations/{job_id}")
    assert status == 200
    return job


@pytest.mark.parametrize(
    ("body", "route", "size"),
    [
        ({"type": "upscale"}, "/variations/upscale", (512, 384)),
        ({"type": "no_background"}, "/variations/nobg", (256, 192)),
        (UNIVERSAL, "/variations/universal-upscaler", (384, 288)),
    ],
    ids=["upscale", "no_background", "universal_upscale"],
)  # fmt: skip
def test_a_variation_runs_as_a_job_of_its_own_and_lands_in_our_bucket(pipeline, body, route, size):
    original = complete(pipeline, submit_one(pipeline))
    status, job = variation_of(pipeline, original, 1, **body)
    assert status == 202 and job["kind"] == body["type"]
    assert job["source"] == {"job_id": original["id"], "index": 1} and job["seed"] is None

    pipeline.drain("SubmitQueue", "SubmitterFunction")
    [sent] = pipeline.stack.simulator.variation_log()
    assert sent["route"] == route and sent["sourceImageId"] == original["images"][1]["leonardo_image_id"]

    done = finish_by_polling(pipeline, job["id"])
    assert done["status"] == "COMPLETE" and len(done["images"]) == 1
    key = pipeline.job_item(job["id"])["images"][0]["key"]
    stored = pipeline.s3.get_object(Bucket=pipeline.stack.env["OUTPUT_BUCKET"], Key=key)["Body"].read()
    assert Image.open(io.BytesIO(stored)).size == size
    assert done["cost"]["unit"] == "CREDITS" and float(done["cost"]["amount"]) > 0


def test_a_variation_whose_paid_call_goes_unanswered_fails_and_is_never_resent(pipeline):
    original = complete(pipeline, submit_one(pipeline))
    _, job = variation_of(pipeline, original, type="upscale")
    pipeline.stack.simulator.set_faults(FaultConfig(seed=3, http_5xx_after_create_rate=1.0))
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    pipeline.stack.simulator.set_faults(FaultConfig(seed=3))
    item = pipeline.job_item(job["id"])
    assert (item["status"], item["error_code"]) == ("FAILED", "submit_outcome_unknown")
    assert len(pipeline.stack.simulator.variation_log()) == 1  # created once (and billed), never again
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    assert len(pipeline.stack.simulator.variation_log()) == 1 and pipeline.in_flight() == 0


def test_variation_options_out_of_range_or_for_another_type_are_refused(pipeline):
    original = complete(pipeline, submit_one(pipeline))
    for body, code in (
        ({"type": "universal_upscale", "creativity_strength": 11}, "validation_error"),
        ({"type": "upscale", "multiplier": 1.5}, "invalid_combination"),
        ({"type": "universal_upscale", "similarity": 3}, "invalid_combination"),
        ({"type": "sharpen"}, "validation_error"),
    ):
        status, answer = variation_of(pipeline, original, **body)
        assert status == 422 and answer["error"]["code"] == code, body
    status, answer = variation_of(pipeline, original, 5, type="upscale")  # no image 5
    assert status == 422 and answer["error"]["code"] == "source_not_usable"
    assert pipeline.receive("SubmitQueue") == []
