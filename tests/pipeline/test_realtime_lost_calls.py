"""A realtime call's reservation survives its invocation's death (domain/call_sweep.py, run by the
reconciler), on moto and the simulator: the API handler dies after Leonardo's answer, before
settling; the reconciler's run once the call is due spends the reservation at the estimate, and the
user's reserved amount returns to zero. A call its invocation settled is never swept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gencore import wiring
from gencore.adapters.ddb import plain_item
from gencore.adapters.ledger import DynamoCallLedger
from gencore.domain.call_sweep import CALL_LOST_AFTER
from tests.pipeline.test_realtime import sketch, usage

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """The invocation dies (killed at its timeout): nothing after it runs, nothing catches it."""


def call_items(pipeline) -> list[dict]:
    table = pipeline.stack.env["JOBS_TABLE"]
    items = pipeline.ddb.scan(TableName=table)["Items"]
    return [plain_item(i) for i in items if i["pk"]["S"].startswith("CALL#")]


def test_a_call_whose_invocation_died_after_the_answer_is_settled_at_its_estimate_by_the_reconciler(
    pipeline, monkeypatch
):
    # Given a call (1024 px: an estimate of 2) whose invocation dies after Leonardo's answer
    settle = DynamoCallLedger.settle

    def crash(self, user_id, charge, amount):
        raise Crash

    monkeypatch.setattr(DynamoCallLedger, "settle", crash)
    with pytest.raises(Crash):
        pipeline.api("POST", "/v1/realtime/generate", body={"image": sketch(), "prompt": "x", "width": 1024})
    monkeypatch.setattr(DynamoCallLedger, "settle", settle)
    assert pipeline.stack.simulator.stats().get("lcm_calls") == 1  # Leonardo did the work
    day = usage(pipeline)
    assert (Decimal(day["reserved"]), Decimal(day["spent"])) == (2, 0)
    [record] = call_items(pipeline)
    assert record["state"] == "reserved" and record["user_id"] == "alice" and record["estimate"] == 2
    assert record["due_pk"].startswith("DUE#C") and record["expires_at"] > record["due_at"]

    # When the reconciler runs before the call is due, Then the reservation is left alone
    pipeline.reconcile()
    assert Decimal(usage(pipeline)["reserved"]) == 2

    # When it runs once the call is due
    now = wiring.clock
    later = datetime.now(UTC) + CALL_LOST_AFTER + timedelta(seconds=1)
    monkeypatch.setattr(wiring, "clock", lambda: later)
    wiring.reset()
    pipeline.reconcile()

    # Then the reservation is spent at the estimate, and nothing stays reserved
    monkeypatch.setattr(wiring, "clock", now)
    wiring.reset()
    day = usage(pipeline)
    assert (Decimal(day["reserved"]), Decimal(day["spent"])) == (0, 2)
    [record] = call_items(pipeline)
    assert record["state"] == "settled" and record["amount"] == 2 and "due_pk" not in record


def test_a_call_settled_by_its_invocation_is_closed_and_never_swept(pipeline, monkeypatch):
    status, answer = pipeline.api("POST", "/v1/realtime/generate", body={"image": sketch(), "prompt": "x"})
    assert status == 200, answer
    [record] = call_items(pipeline)
    assert record["state"] == "settled" and "due_pk" not in record
    spent = Decimal(usage(pipeline)["spent"])

    monkeypatch.setattr(wiring, "clock", lambda: datetime.now(UTC) + CALL_LOST_AFTER * 2)
    wiring.reset()
    pipeline.reconcile()
    day = usage(pipeline)
    assert (Decimal(day["reserved"]), Decimal(day["spent"])) == (0, spent)
