"""The credit ledger's items in the jobs table, and the writes that keep them.

LEDGER#<user> / DAY#<YYYY-MM-DD> and LEDGER#<user> / MONTH#<YYYY-MM>, each with `committed`
(= reserved + spent: the one number a reservation is checked against), `reserved`, `spent` and
`jobs` (reservations made), in the deployment's billing unit, and `plan` (the user's plan at their
latest accept in the period). The job store adds these updates to the same transaction as the job
write that causes them (domain/ledger.py says when), so a job and the ledger never disagree,
whatever crashes when.

The top spenders of a period (`python -m ops usage --top N`) come from the sparse TopSpenders
index: every period item carries `spend_pk` = SPEND#<DAY|MONTH>#<key>#<shard>, the index sorts
each partition by `committed`, so the N largest are N items read per shard, newest numbers
included (the index follows the table within about a second), with no Scan and no extra write in
the ledger's transactions. The user's shard spreads one period's writes over a few partitions.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from gencore.adapters.ddb import ConditionFailed, Writer, decimal_value
from gencore.adapters.due_index import oldest_due, still_due
from gencore.adapters.job_keys import CALL_DUE, call_key, due_partition, partitions
from gencore.domain.call_sweep import CallCharge, OpenCall
from gencore.domain.ledger import BudgetExceeded, Delta, Period, resets_at
from gencore.domain.models import Charge
from gencore.domain.plans import Budget

log = logging.getLogger(__name__)

PERIODS = ("day", "month")
SPEND_INDEX = "TopSpenders"
SPEND_SHARDS = 4


def ledger_key(user_id: str, period: str, key: str) -> dict[str, Any]:
    return {"pk": {"S": f"LEDGER#{user_id}"}, "sk": {"S": f"{period.upper()}#{key}"}}


def spend_partition(user_id: str, period: str, key: str) -> str:
    """The TopSpenders partition of a user's period item."""
    return f"SPEND#{period.upper()}#{key}#{zlib.crc32(user_id.encode()) % SPEND_SHARDS}"


def spend_partitions(period: str, key: str) -> list[str]:
    return [f"SPEND#{period.upper()}#{key}#{shard}" for shard in range(SPEND_SHARDS)]


def _period_key(charge: Charge, period: str) -> str:
    return charge.day if period == "day" else charge.month


def reservation_updates(
    table: str, user_id: str, charge: Charge, budget: Budget | None, *, plan: str | None = None
) -> list[dict[str, Any]]:
    """The accept's reservation, one Update per period, each refused (a failed condition) when it
    would take that period's committed amount over the budget. Items in PERIODS order."""
    amount = Decimal(charge.estimate)
    updates = []
    for period in PERIODS:
        limit = None if budget is None else (budget.per_day if period == "day" else budget.per_month)
        key = _period_key(charge, period)
        update: dict[str, Any] = {
            "TableName": table,
            "Key": ledger_key(user_id, period, key),
            "UpdateExpression": "ADD committed :amount, reserved :amount, jobs :one "
            "SET #unit = :unit, spend_pk = :spend" + (", #plan = :plan" if plan else ""),
            "ExpressionAttributeNames": {"#unit": "unit"} | ({"#plan": "plan"} if plan else {}),
            "ExpressionAttributeValues": {
                ":amount": decimal_value(amount),
                ":one": {"N": "1"},
                ":unit": {"S": charge.unit},
                ":spend": {"S": spend_partition(user_id, period, key)},
            }
            | ({":plan": {"S": plan}} if plan else {}),
        }
        if limit is not None:
            # No arithmetic in conditions: "committed + amount <= limit" is "committed <= limit - amount".
            # An absent item has committed nothing, unless the amount alone is over the limit.
            room = limit - amount
            update["ConditionExpression"] = (
                "attribute_not_exists(committed) OR committed <= :room" if room >= 0 else "committed <= :room"
            )
            update["ExpressionAttributeValues"][":room"] = decimal_value(room)
        updates.append({"Update": update})
    return updates


def change_updates(table: str, user_id: str, charge: Charge, change: Delta) -> list[dict[str, Any]]:
    """A settlement or a release: the difference applied to the periods the reservation was made in."""
    if not change:
        return []
    return [
        {
            "Update": {
                "TableName": table,
                "Key": ledger_key(user_id, period, _period_key(charge, period)),
                # spend_pk again: items written before the index existed join it at their next change
                "UpdateExpression": "ADD committed :committed, reserved :reserved, spent :spent "
                "SET spend_pk = :spend",
                "ExpressionAttributeValues": {
                    ":committed": decimal_value(change.committed),
                    ":reserved": decimal_value(change.reserved),
                    ":spent": decimal_value(change.spent),
                    ":spend": {"S": spend_partition(user_id, period, _period_key(charge, period))},
                },
            }
        }
        for period in PERIODS
    ]


@dataclass(frozen=True)
class Spender:
    """One user's period as the TopSpenders index lists it."""

    user_id: str
    period: Period
    jobs: int
    plan: str | None
    unit: str | None


class DynamoLedger:
    """Reads a user's periods (GET /v1/usage, the operator's view, a refusal's remaining amount)."""

    def __init__(self, client: Any, table: str) -> None:
        self._db, self._table = client, table

    def period(self, user_id: str, period: str, key: str) -> Period:
        item = (
            self._db.get_item(
                TableName=self._table, Key=ledger_key(user_id, period, key), ConsistentRead=True
            ).get("Item")
            or {}
        )

        return _period_of(item, period, key)

    def top(self, period: str, key: str, *, limit: int) -> list[Spender]:
        """The `limit` users who committed the most in one period (largest first): each shard's
        largest, merged. From the index, so up to a second behind the table."""
        found: list[Spender] = []
        for partition in spend_partitions(period, key):
            result = self._db.query(
                TableName=self._table,
                IndexName=SPEND_INDEX,
                KeyConditionExpression="spend_pk = :p",
                ExpressionAttributeValues={":p": {"S": partition}},
                ScanIndexForward=False,
                Limit=limit,
            )
            found.extend(_spender(item, period, key) for item in result["Items"])
        found.sort(key=lambda s: (-s.period.committed, s.user_id))
        return found[:limit]


def _period_of(item: dict[str, Any], period: str, key: str) -> Period:
    def number(name: str) -> Decimal:
        return Decimal(item[name]["N"]) if name in item else Decimal(0)

    return Period(period=period, key=key, reserved=number("reserved"), spent=number("spent"))


def _spender(item: dict[str, Any], period: str, key: str) -> Spender:
    return Spender(
        user_id=item["pk"]["S"].removeprefix("LEDGER#"), period=_period_of(item, period, key),
        jobs=int(item["jobs"]["N"]) if "jobs" in item else 0,
        plan=item["plan"]["S"] if "plan" in item else None,
        unit=item["unit"]["S"] if "unit" in item else None,
    )  # fmt: skip


def budget_refusal(
    client: Any, table: str, user_id: str, charge: Charge, period: str, budget: Budget, *, what: str
) -> BudgetExceeded:
    """The 402 for a reservation of `charge` that `period` of `budget` refused (`what`: job, batch)."""
    key = _period_key(charge, period)
    limit = budget.per_day if period == "day" else budget.per_month
    assert limit is not None
    used = DynamoLedger(client, table).period(user_id, period, key).committed
    return BudgetExceeded(
        f"This {what}'s estimate ({charge.estimate} {charge.unit}) is over what is left of your "
        f"{'daily' if period == 'day' else 'monthly'} budget",
        period=period, remaining=max(limit - used, Decimal(0)), unit=charge.unit,
        resets_at=resets_at(period, key),
    )  # fmt: skip


# A synchronous call's record (domain/call_sweep.py): CALL#<call_id> / CALL, with user_id, plan, the
# charge (unit, estimate, day, month), created_at, and while open due_pk = DUE#C<n>, due_at = when it
# counts as lost (the DueJobs index, beside the jobs' partitions; keys in job_keys.py). Settling
# removes due_pk/due_at and records what it settled at. The TTL (expires_at) only collects records:
# an open one is kept a week past its due time (the sweep settles it within minutes), a settled one a
# day.
OPEN_CALL_RETENTION = timedelta(days=7)
SETTLED_CALL_RETENTION = timedelta(days=1)


def _epoch(moment: datetime) -> dict[str, Any]:
    return {"N": str(int(moment.timestamp()))}


class DynamoCallLedger:
    """The ledger side of a synchronous paid call (the realtime canvas): no job carries its charge,
    so the reservation and its settlement are transactions of their own (domain/realtime.py), each
    with the call's record: put open by the reservation, closed (on the condition that it is open)
    by the settlement, so a call settles once, by its own invocation or by the sweep
    (domain/call_sweep.py, the OpenCalls port)."""

    def __init__(self, client: Any, table: str, *, writer: Writer | None = None) -> None:
        self._db, self._table = client, table
        self._writer = writer or Writer(client)

    def reserve(self, user_id: str, charge: CallCharge, budget: Budget | None, *, plan: str | None) -> None:
        updates = reservation_updates(self._table, user_id, charge, budget, plan=plan)
        try:
            self._writer.transact([*updates, self._open_record(user_id, charge, plan)])
        except ConditionFailed as failed:
            over = [period for i, period in enumerate(PERIODS) if failed.failed(i)]
            if over and budget is not None:
                raise budget_refusal(
                    self._db, self._table, user_id, charge, over[0], budget, what="call"
                ) from failed
            raise

    def settle(self, user_id: str, charge: CallCharge, amount: Decimal | None) -> bool:
        change = Delta(reserved=-Decimal(charge.estimate), spent=amount or Decimal(0))
        close: dict[str, Any] = {
            "TableName": self._table,
            "Key": call_key(charge.call_id),
            "UpdateExpression": "SET #state = :state, amount = :amount, expires_at = :expires "
            "REMOVE due_pk, due_at",
            "ConditionExpression": "attribute_exists(due_pk)",  # still open: settled at most once
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {
                ":state": {"S": "released" if amount is None else "settled"},
                ":amount": decimal_value(amount or Decimal(0)),
                ":expires": _epoch(charge.due_at + SETTLED_CALL_RETENTION),
            },
        }
        try:
            self._writer.transact([{"Update": close}, *change_updates(self._table, user_id, charge, change)])
        except ConditionFailed as failed:
            if failed.failed(0):
                return False  # closed already: the ledger moved then
            raise
        return True

    def due(self, *, now: datetime, limit: int) -> list[OpenCall]:
        """Open calls past their due time, oldest first, over every shard; each read again
        (consistently) from the table: the index keeps keys only and follows the table late."""
        entries = oldest_due(
            self._db, self._table, partitions(CALL_DUE), limit=limit, until=int(now.timestamp())
        )
        calls = []
        for item in still_due(self._db, self._table, entries):  # those settled meanwhile left out
            try:
                calls.append(_open_call(item))
            except (KeyError, ValueError):  # not ours to settle; its TTL collects it
                log.error("an open call's record is unreadable", extra={"pk": item["pk"]["S"]})
        return calls

    def _open_record(self, user_id: str, charge: CallCharge, plan: str | None) -> dict[str, Any]:
        item = {
            **call_key(charge.call_id),
            "user_id": {"S": user_id},
            "state": {"S": "reserved"},
            "unit": {"S": charge.unit},
            "estimate": decimal_value(Decimal(charge.estimate)),
            "day": {"S": charge.day},
            "month": {"S": charge.month},
            "created_at": {"S": charge.created_at.isoformat()},
            "due_pk": {"S": due_partition(CALL_DUE, charge.call_id)},
            "due_at": _epoch(charge.due_at),
            "expires_at": _epoch(charge.due_at + OPEN_CALL_RETENTION),
        } | ({"plan": {"S": plan}} if plan else {})
        return {
            "Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        }


def _open_call(item: dict[str, Any]) -> OpenCall:
    charge = CallCharge(
        state="reserved",
        unit=item["unit"]["S"],
        estimate=str(Decimal(item["estimate"]["N"])),
        day=item["day"]["S"],
        month=item["month"]["S"],
        call_id=item["pk"]["S"].removeprefix("CALL#"),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        due_at=datetime.fromtimestamp(int(item["due_at"]["N"]), UTC),
    )
    return OpenCall(user_id=item["user_id"]["S"], charge=charge)
