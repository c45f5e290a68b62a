"""A wrong, rotated or revoked Leonardo key, and an account out of credits, through the real
handlers: a rotated key is read again and works; a bad one holds every job visibly (no paid POST,
no lost job) until the reconciler's probe sees the account usable again."""

from __future__ import annotations

import json
import time

import pytest

from gencore import wiring
from leonardo_simulator import FaultConfig

from .conftest import LEONARDO_KEY

pytestmark = pytest.mark.integration

REQUEST = {"prompt": "A lighthouse on a cliff at dawn", "width": 256, "height": 192, "num_images": 1}


def put_key(pipeline, key: str) -> None:
    secrets = pipeline.stack.aws.client("secretsmanager")
    secrets.put_secret_value(
        SecretId=pipeline.stack.env["LEONARDO_API_KEY_SECRET"], SecretString=json.dumps({"api_key": key})
    )


def created(pipeline) -> int:
    return pipeline.stack.simulator.stats()["generations_created"]


def test_a_rotated_key_in_a_warm_cache_is_read_again_not_reported(pipeline):
    put_key(pipeline, "old-key-no-longer-valid")
    wiring.leonardo().client  # a warm function: the old key is cached  # noqa: B018
    put_key(pipeline, LEONARDO_KEY)  # rotated in Secrets Manager
    _, job = pipeline.api("POST", "/v1/generations", body=REQUEST)
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    assert pipeline.job_item(job["id"])["status"] == "SUBMITTED"
    assert wiring.account_guard().blocked(fresh=True) is None


def test_a_rejected_key_holds_jobs_visibly_until_the_probe_sees_it_fixed(pipeline, monkeypatch):
    monkeypatch.setenv("ACCOUNT_PROBE_FIRST_SECONDS", "1")
    monkeypatch.setenv("ACCOUNT_CACHE_SECONDS", "0")
    wiring.reset()
    put_key(pipeline, "revoked-key")
    _, first = pipeline.api("POST", "/v1/generations", body=REQUEST)
    _, second = pipeline.api("POST", "/v1/generations", body=REQUEST | {"prompt": "a fox"})
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    assert created(pipeline) == 0
    for job_id in (first["id"], second["id"]):
        _, view = pipeline.api("GET", f"/v1/generations/{job_id}")
        assert view["status"] == "QUEUED" and view["hold"]["code"] == "leonardo_auth"
    assert pipeline.in_flight() == 0 and pipeline.receive("SubmitQueue") == []  # held, not cycling
    assert pipeline.reconcile()["outcomes"].get("account_probe_failed", 0) in (0, 1)

    put_key(pipeline, LEONARDO_KEY)  # the operator fixes the key
    time.sleep(1.1)
    pipeline.reconcile()  # the probe reads the key again, clears the block, wakes the line
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    for job_id in (first["id"], second["id"]):
        _, view = pipeline.api("GET", f"/v1/generations/{job_id}")
        assert view["status"] == "SUBMITTED" and view["hold"] is None
    assert created(pipeline) == 2


def test_an_account_out_of_credits_holds_jobs_rather_than_failing_them(pipeline, monkeypatch):
    from gencore.leonardo import LeonardoClient, PermanentError

    def no_credits(self, request):
        raise PermanentError(
            "400", status=400, body={"error": "Not enough API tokens to run this generation"}
        )

    monkeypatch.setattr(LeonardoClient, "create_generation", no_credits)
    pipeline.stack.simulator.set_faults(FaultConfig())
    _, job = pipeline.api("POST", "/v1/generations", body=REQUEST)
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    _, view = pipeline.api("GET", f"/v1/generations/{job['id']}")
    assert view["status"] == "QUEUED" and view["hold"]["code"] == "leonardo_credits"
    assert pipeline.in_flight() == 0
