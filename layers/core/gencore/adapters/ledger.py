"""The credit ledger's items in the jobs table, and the writes that keep them.

LEDGER#<user> / DAY#<YYYY-MM-DD> and LEDGER#<user> / MONTH#<YYYY-MM>, each with `committed`
(= reserved + spent: the one number a reservation is checked against), `reserved`, `spent` and
`jobs` (reservations made), in the deployment's billing unit. The job store adds these updates to
the same transaction as the job write that causes them (domain/ledger.py says when), so a job and
the ledger never disagree, whatever crashes when.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gencore.domain.ledger import Delta, Period
from gencore.domain.models import Charge
from gencore.domain.plans import Budget

PERIODS = ("day", "month")


def _number(amount: Decimal) -> dict:
    return {"N": format(amount.normalize(), "f")}


def ledger_key(user_id: str, period: str, key: str) -> dict:
    return {"pk": {"S": f"LEDGER#{user_id}"}, "sk": {"S": f"{period.upper()}#{key}"}}


def _period_key(charge: Charge, period: str) -> str:
    return charge.day if period == "day" else charge.month


def reservation_updates(table: str, user_id: str, charge: Charge, budget: Budget | None) -> list[dict]:
    """The accept's reservation, one Update per period, each refused (a failed condition) when it
    would take that period's committed amount over the budget. Items in PERIODS order."""
    amount = Decimal(charge.estimate)
    updates = []
    for period in PERIODS:
        limit = None if budget is None else (budget.per_day if period == "day" else budget.per_month)
        update: dict[str, Any] = {
            "TableName": table,
            "Key": ledger_key(user_id, period, _period_key(charge, period)),
            "UpdateExpression": "ADD committed :amount, reserved :amount, jobs :one SET #unit = :unit",
            "ExpressionAttributeNames": {"#unit": "unit"},
            "ExpressionAttributeValues": {
                ":amount": _number(amount),
                ":one": {"N": "1"},
                ":unit": {"S": charge.unit},
            },
        }
        if limit is not None:
            # No arithmetic in conditions: "committed + amount <= limit" is "committed <= limit - amount".
            # An absent item has committed nothing, unless the amount alone is over the limit.
            room = limit - amount
            update["ConditionExpression"] = (
                "attribute_not_exists(committed) OR committed <= :room" if room >= 0 else "committed <= :room"
            )
            update["ExpressionAttributeValues"][":room"] = _number(room)
        updates.append({"Update": update})
    return updates


def change_updates(table: str, user_id: str, charge: Charge, change: Delta) -> list[dict]:
    """A settlement or a release: the difference applied to the periods the reservation was made in."""
    if not change:
        return []
    return [
        {
            "Update": {
                "TableName": table,
                "Key": ledger_key(user_id, period, _period_key(charge, period)),
                "UpdateExpression": "ADD committed :committed, reserved :reserved, spent :spent",
                "ExpressionAttributeValues": {
                    ":committed": _number(change.committed),
                    ":reserved": _number(change.reserved),
                    ":spent": _number(change.spent),
                },
            }
        }
        for period in PERIODS
    ]


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

        def number(name: str) -> Decimal:
            return Decimal(item[name]["N"]) if name in item else Decimal(0)

        return Period(period=period, key=key, reserved=number("reserved"), spent=number("spent"))
