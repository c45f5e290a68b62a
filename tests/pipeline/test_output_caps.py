"""An output over its kind's cap fails the job with `output_too_large`, end to end, and stores nothing."""

from __future__ import annotations

import httpx
import pytest

from gencore import wiring

from .test_generation_flow import callback_for, submit_one

pytestmark = pytest.mark.integration

IMAGE_CAP = 1024  # the smallest cap the settings allow; the simulator's PNGs are larger


def test_an_output_over_the_image_cap_fails_the_job(pipeline, monkeypatch):
    # Given a processor whose image cap is below the size of Leonardo's images
    monkeypatch.setenv("OUTPUT_IMAGE_MAX_BYTES", str(IMAGE_CAP))
    wiring.reset()
    item = submit_one(pipeline)
    record = pipeline.stack.simulator.generations[item["generation_id"]]
    assert all(len(httpx.get(image.url).content) > IMAGE_CAP for image in record.images)
    # When Leonardo's completion arrives
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    responses = pipeline.drain("EventsQueue", "ProcessorFunction")
    # Then the job fails for good (no retry), with the cap's code, its slot free and no file stored
    assert all(not r["batchItemFailures"] for r in responses)
    _, view = pipeline.api("GET", f"/v1/generations/{item['id']}")
    assert view["status"] == "FAILED" and view["error"]["code"] == "output_too_large"
    assert pipeline.outputs() == []
    assert pipeline.in_flight() == 0
