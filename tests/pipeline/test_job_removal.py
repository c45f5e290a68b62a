"""Cancel and delete through the API function, against moto and the Leonardo simulator: a cancelled
job never reaches Leonardo; a deleted job's files are gone here and at Leonardo, its record stays."""

from __future__ import annotations

import pytest

from leonardo_simulator import FaultConfig

from .test_generation_flow import PROMPT, callback_for, submit_one

pytestmark = pytest.mark.integration


def deleted_at_leonardo(pipeline, generation_id: str) -> bool:
    [entry] = [g for g in pipeline.stack.simulator.generation_log() if g["id"] == generation_id]
    return bool(entry["deleted"])


def completed(pipeline) -> dict:
    item = submit_one(pipeline)
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    pipeline.drain("EventsQueue", "ProcessorFunction")
    status, job = pipeline.api("GET", f"/v1/generations/{item['id']}")
    assert status == 200 and job["status"] == "COMPLETE", job
    return job


def test_a_job_still_waiting_here_is_cancelled_and_never_reaches_leonardo(pipeline):
    _, job = pipeline.api("POST", "/v1/generations", body=PROMPT)
    status, cancelled = pipeline.api("POST", f"/v1/generations/{job['id']}/cancel")
    assert status == 200 and cancelled["status"] == "CANCELLED"
    assert (
        pipeline.api("POST", f"/v1/generations/{job['id']}/cancel")[1]["status"] == "CANCELLED"
    )  # repeatable
    pipeline.drain("SubmitQueue", "SubmitterFunction")  # its submit message arrives: nothing to do
    assert pipeline.stack.simulator.generation_log() == [] and pipeline.in_flight() == 0
    assert pipeline.job_item(job["id"])["status"] == "CANCELLED"


def test_a_job_leonardo_has_cannot_be_cancelled(pipeline):
    item = submit_one(pipeline)
    status, body = pipeline.api("POST", f"/v1/generations/{item['id']}/cancel")
    assert status == 409 and body["error"]["code"] == "not_cancellable"
    assert pipeline.job_item(item["id"])["status"] == "SUBMITTED"


def test_deleting_a_finished_job_removes_its_files_here_and_at_leonardo_and_keeps_the_record(pipeline):
    job = completed(pipeline)
    generation_id = pipeline.job_item(job["id"])["generation_id"]
    assert len(pipeline.outputs(f"outputs/alice/{job['id']}/")) == 2
    status, deleted = pipeline.api("DELETE", f"/v1/generations/{job['id']}")
    assert status == 200 and deleted["status"] == "DELETED" and deleted["images"] == []
    assert pipeline.outputs(f"outputs/alice/{job['id']}/") == []
    assert deleted_at_leonardo(pipeline, generation_id)
    # The record stays for lineage, and a repeat answers the same.
    assert pipeline.api("GET", f"/v1/generations/{job['id']}")[1]["status"] == "DELETED"
    assert pipeline.api("DELETE", f"/v1/generations/{job['id']}") == (
        200,
        deleted | {"updated_at": deleted["updated_at"]},
    )


def test_a_deleted_job_is_no_longer_a_source(pipeline):
    job = completed(pipeline)
    pipeline.api("DELETE", f"/v1/generations/{job['id']}")
    status, body = pipeline.api(
        "POST", "/v1/generations", body={"prompt": "again", "source": {"job_id": job["id"], "index": 0}}
    )
    assert status == 422 and body["error"]["code"] == "source_not_usable"


def test_when_leonardo_cannot_be_reached_the_delete_answers_503_and_a_repeat_finishes(pipeline):
    job = completed(pipeline)
    generation_id = pipeline.job_item(job["id"])["generation_id"]
    pipeline.stack.simulator.set_faults(FaultConfig(seed=1, http_5xx_rate=1.0))
    status, body = pipeline.api("DELETE", f"/v1/generations/{job['id']}")
    assert status == 503 and body["error"]["code"] == "leonardo_busy"
    assert pipeline.job_item(job["id"])["status"] == "DELETED" and not deleted_at_leonardo(
        pipeline, generation_id
    )
    assert pipeline.outputs(f"outputs/alice/{job['id']}/") == []
    pipeline.stack.simulator.set_faults(FaultConfig(seed=1))
    status, _ = pipeline.api("DELETE", f"/v1/generations/{job['id']}")
    assert status == 200 and deleted_at_leonardo(pipeline, generation_id)
    assert pipeline.job_item(job["id"])["leonardo_copy"] == "deleted"


def test_a_job_not_yet_ended_cannot_be_deleted(pipeline):
    _, job = pipeline.api("POST", "/v1/generations", body=PROMPT)
    status, body = pipeline.api("DELETE", f"/v1/generations/{job['id']}")
    assert status == 409 and body["error"]["code"] == "not_deletable"


def test_another_users_job_cannot_be_cancelled_or_deleted(pipeline):
    _, job = pipeline.api("POST", "/v1/generations", body=PROMPT, user="alice")
    for method, path in (
        ("POST", f"/v1/generations/{job['id']}/cancel"),
        ("DELETE", f"/v1/generations/{job['id']}"),
    ):
        status, body = pipeline.api(method, path, user="bob")
        assert status == 404 and body["error"]["code"] == "not_found"
    assert pipeline.job_item(job["id"])["status"] == "QUEUED"
