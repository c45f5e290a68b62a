"""A realtime call's record in DynamoDB (adapters/ledger.py, DynamoCallLedger), on moto: the
reservation and the open record are written together or not at all, a call settles once, and the
sweep's read finds the oldest open calls past their due time over every shard, at most its limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gencore import wiring
from gencore.adapters.job_keys import call_key
from gencore.adapters.ledger import DynamoCallLedger, DynamoLedger
from gencore.domain.call_sweep import CALL_LOST_AFTER, open_call
from gencore.domain.ledger import BudgetExceeded, reserve
from gencore.domain.plans import Budget

pytestmark = pytest.mark.integration


def test_a_call_settles_once_and_a_refused_reservation_records_no_call(stack):
    ledger = DynamoCallLedger(wiring.aws("dynamodb"), stack.env["JOBS_TABLE"])
    now = datetime.now(UTC)
    charge = open_call(reserve(Decimal(3), "CREDITS", now), now)
    ledger.reserve("bob", charge, None, plan="pro")
    assert [c.charge.call_id for c in ledger.due(now=now, limit=5)] == []  # not due yet
    [found] = ledger.due(now=charge.due_at, limit=5)
    assert found.user_id == "bob" and found.charge.model_dump(exclude={"due_at"}) == charge.model_dump(
        exclude={"due_at"}
    )  # due_at kept to the second

    assert ledger.settle("bob", charge, Decimal(1)) is True
    assert ledger.settle("bob", charge, Decimal(3)) is False  # a second settlement moves nothing
    assert ledger.due(now=charge.due_at, limit=5) == []

    over = open_call(reserve(Decimal(5), "CREDITS", now), now)
    with pytest.raises(BudgetExceeded):
        ledger.reserve("bob", over, Budget(per_day=Decimal(4), per_month=Decimal(100)), plan="pro")
    table = stack.env["JOBS_TABLE"]
    assert "Item" not in wiring.aws("dynamodb").get_item(TableName=table, Key=call_key(over.call_id))
    period = DynamoLedger(wiring.aws("dynamodb"), table).period("bob", "day", charge.day)
    assert (period.reserved, period.spent) == (0, 1)


def test_the_due_calls_are_the_oldest_over_every_shard_at_most_the_limit_and_unreadable_ones_skipped(stack):
    ledger = DynamoCallLedger(wiring.aws("dynamodb"), stack.env["JOBS_TABLE"])
    start = datetime.now(UTC)
    charges = []
    for second in range(8):  # spread over the shards by their ids
        at = start + timedelta(seconds=second)
        charges.append(open_call(reserve(Decimal(1), "CREDITS", at), at))
        ledger.reserve("carol", charges[-1], None, plan=None)
    wiring.aws("dynamodb").update_item(
        TableName=stack.env["JOBS_TABLE"], Key=call_key(charges[0].call_id), UpdateExpression="REMOVE user_id"
    )  # the oldest is unreadable

    due = ledger.due(now=start + CALL_LOST_AFTER + timedelta(minutes=1), limit=4)

    assert [c.charge.call_id for c in due] == [c.call_id for c in charges[1:4]]
