"""Issue 9 against moto and the simulator: the account block and the orphan sweep, through the real
adapters, the reconciler handler and the ops CLI."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gencore import wiring
from gencore.adapters.account import DynamoAccountState, DynamoOrphanStore
from gencore.adapters.leonardo import LeonardoGateway
from gencore.domain.ports import AccountBlock, Orphan, RemoteSummary
from ops.cli import main as ops

from .conftest import LEONARDO_KEY
from .test_generation_flow import PROMPT, submit_one

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def _ops(pipeline, *args):
    env = pipeline.stack.env
    return ops([*args, "--local", "--endpoint-url", env["AWS_ENDPOINT_URL"], "--table", env["JOBS_TABLE"]])


# --- the adapters' conditional writes -------------------------------------------------------------


def test_the_account_block_is_written_once_changed_by_its_holder_and_cleared(stack):
    state = DynamoAccountState(wiring.aws("dynamodb"), stack.env["JOBS_TABLE"])
    assert state.load() is None
    first = AccountBlock(reason="leonardo_auth", since=NOW, next_probe_at=NOW + timedelta(seconds=60))
    assert state.trip(first) == first
    later = AccountBlock(reason="leonardo_credits", since=NOW + timedelta(seconds=5), next_probe_at=NOW)
    assert state.trip(later) == first  # the first trip keeps its since and reason
    assert state.update(replace(later, probes=1)) is False  # not the stored block
    backed_off = replace(first, probes=1, next_probe_at=NOW + timedelta(seconds=120))
    assert state.update(backed_off) is True and state.load() == backed_off
    assert state.clear(later.since) is False
    assert state.clear(first.since) is True and state.load() is None
    assert state.trip(later) == later  # a new block after a clear


def test_the_orphan_sweep_state_and_orphans(stack):
    store = DynamoOrphanStore(wiring.aws("dynamodb"), stack.env["JOBS_TABLE"])
    assert store.claim_sweep(now=NOW, every_seconds=600) == (True, None)
    assert store.claim_sweep(now=NOW + timedelta(seconds=599), every_seconds=600) == (False, None)
    store.finish_sweep(reached=NOW - timedelta(minutes=15))
    store.finish_sweep(reached=NOW - timedelta(minutes=30))  # never backwards
    assert store.claim_sweep(now=NOW + timedelta(seconds=600), every_seconds=600) == (
        True, NOW - timedelta(minutes=15),
    )  # fmt: skip
    older = Orphan("gen-a", NOW - timedelta(hours=2), "COMPLETE", 8.0, NOW)
    newer = Orphan("gen-b", NOW - timedelta(hours=1), "FAILED", None, NOW)
    assert store.record_orphan(older, expires_at=0) is True
    assert store.record_orphan(newer, expires_at=0) is True
    assert store.record_orphan(older, expires_at=0) is False  # reported once
    assert store.orphans(limit=10) == [newer, older]


# --- the reconciler handler ----------------------------------------------------------------------


def test_a_blocked_account_holds_the_line_and_fails_it_after_the_hold(pipeline):
    # Given a job waiting in line and an account Leonardo refuses
    status, job = pipeline.api("POST", "/v1/generations", body=PROMPT)
    assert status == 202
    queue = pipeline.queues["SubmitQueue"]
    for message in pipeline.receive("SubmitQueue"):  # its message is lost: the job waits in line
        pipeline.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    store = wiring.store()
    assert store.park(store.get(job["id"]))
    wiring.account_guard().trip("leonardo_auth")

    # Then every run reports the block and wakes nobody (the first probe is a minute away)
    result = pipeline.reconcile()
    assert result["account_blocked"] == "leonardo_auth"
    assert "woken" not in result["outcomes"] and pipeline.receive("SubmitQueue") == []
    assert pipeline.job_item(job["id"])["status"] == "QUEUED"

    # When the block outlasts the hold (LEONARDO_HOLD_MAX_SECONDS)
    state = wiring.account_state()
    block = state.load()
    old = replace(block, since=block.since - timedelta(hours=7))
    assert state.update(old) is False  # conditional on its since: write the older block directly
    assert state.clear(block.since) and state.trip(old) == old
    result = pipeline.reconcile()

    # Then the held job fails with leonardo_unavailable, and the block is still reported
    assert result["outcomes"].get("leonardo_unavailable") == 1
    item = pipeline.job_item(job["id"])
    assert (item["status"], item["error_code"]) == ("FAILED", "leonardo_unavailable")
    assert "due_pk" not in item
    assert _ops(pipeline, "account", "show") == 0


def _stopgap_recent_generations(self, *, since, limit_pages):
    """Until the gateway has its own: GET /me, then GET /generations/user/{id} page by page."""
    user_id = self.client.me().user_id
    found = []
    for page in range(limit_pages):
        batch = self.client.list_user_generations(user_id, offset=page * 50, limit=50)
        for g in batch:
            moment = datetime.fromisoformat(g.created_at.replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            found.append(RemoteSummary(id=g.id, created_at=moment, status=g.status))
        if len(batch) < 50 or (found and found[-1].created_at <= since):
            break
    return found


def test_the_reconciler_reports_a_generation_no_job_owns(pipeline, monkeypatch, capsys):
    if not hasattr(LeonardoGateway, "recent_generations"):
        monkeypatch.setattr(LeonardoGateway, "recent_generations", _stopgap_recent_generations, raising=False)
    # Given a generation of ours with its job, and one made with our key outside any job
    owned = submit_one(pipeline)
    from gencore.leonardo import LeonardoClient
    from gencore.leonardo.models import GenerationRequest

    with LeonardoClient(base_url=pipeline.stack.simulator.base_url, api_key=LEONARDO_KEY) as client:
        answer = client.create_generation(GenerationRequest(prompt="a stray", width=512, height=512))
    stray = answer.generation_id
    pipeline.wait_for_leonardo(stray)
    monkeypatch.setenv("ORPHAN_GRACE_SECONDS", "0")  # no adoption is under way in this test
    wiring.reset()

    result = pipeline.reconcile()

    # Then the stray one, and only it, is reported and kept for the ops CLI
    assert result["orphan_sweep"] == {"checked": 2, "orphans": 1}
    [orphan] = wiring.orphan_store().orphans(limit=10)
    assert orphan.generation_id == stray and orphan.generation_id != owned["generation_id"]
    capsys.readouterr()
    assert _ops(pipeline, "orphans", "list") == 0
    assert stray in capsys.readouterr().out
    # and the next run does not sweep again within the interval
    assert pipeline.reconcile()["orphan_sweep"] == {}
