"""What users spend, from the credit ledger the API's `GET /v1/usage` reads (gencore/adapters/ledger.py).

- `user_usage`: one user's day and month (budget from their plan, committed, reserved, spent,
  remaining) and their latest jobs with their charges. GetItem on LEDGER#<user> items and a Query of
  the UserJobs index (the job's request is not read: no prompt reaches the terminal).
- `top`: a period's largest spenders by committed amount (reserved + spent, what budgets count),
  from the TopSpenders index: `limit` items per shard, never a Scan.

A user's budget comes from the plan their latest accept in the period recorded on the ledger (or
their latest job), looked up in the plans document the stack runs (or `--plans`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ops.stack import REPO_ROOT, Stack

try:
    import gencore  # noqa: F401
except ImportError:  # run from the repository root without PYTHONPATH: use the layer's source
    sys.path.insert(0, str(REPO_ROOT / "layers" / "core"))

from gencore.adapters.ledger import DynamoLedger, ledger_key
from gencore.domain.ledger import periods, resets_at
from gencore.domain.plans import PlansDocument, load_plans
from gencore.domain.spend import pseudonym

PERIODS = ("day", "month")


@dataclass(frozen=True)
class Plans:
    """The plans document the stack runs, for budgets; None when it could not be read."""

    document: PlansDocument | None
    source: str  # where it came from, for the output

    def budget(self, plan: str | None, period: str) -> Decimal | None:
        if self.document is None or plan is None or plan not in self.document.plans:
            return None
        budget = self.document.plans[plan].budget
        return budget.per_day if period == "day" else budget.per_month


def plans_for(stack: Stack, path: str | None) -> Plans:
    """`path` if given; else the deployed API function's PLANS_DOCUMENT; else the shipped plans."""
    if path:
        with open(path, encoding="utf-8") as file:
            return Plans(load_plans(file.read()), path)
    text = None if stack.local else stack.function_environment("ApiFunction").get("PLANS_DOCUMENT")
    try:
        return Plans(load_plans(text or None), "the stack's PlansDocument" if text else "the shipped plans")
    except ValueError as error:  # pydantic's ValidationError too: show usage without budgets
        return Plans(None, f"unreadable plans document ({type(error).__name__})")


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else format(amount.normalize(), "f")


def _number(item: dict, name: str) -> Decimal:
    return Decimal(item[name]["N"]) if name in item else Decimal(0)


def _string(item: dict, name: str) -> str | None:
    return item[name]["S"] if name in item and "S" in item[name] else None


def _period(period: str, key: str, item: dict, plan: str | None, plans: Plans) -> dict[str, Any]:
    reserved, spent = _number(item, "reserved"), _number(item, "spent")
    budget = plans.budget(plan, period)
    committed = reserved + spent
    return {
        "period": period,
        "key": key,
        "plan": plan,
        "unit": _string(item, "unit"),
        "budget": _text(budget),
        "committed": _text(committed),
        "reserved": _text(reserved),
        "spent": _text(spent),
        "remaining": _text(max(budget - committed, Decimal(0))) if budget is not None else None,
        "jobs": int(_number(item, "jobs")),
        "resets_at": resets_at(period, key).isoformat().replace("+00:00", "Z"),
    }


def recent_jobs(ddb: Any, table: str, user_id: str, *, limit: int) -> list[dict[str, Any]]:
    """The user's latest jobs, newest first, with their charges; never their request's text."""
    result = ddb.query(
        TableName=table,
        IndexName="UserJobs",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": f"USER#{user_id}"}},
        ProjectionExpression="id, kind, #s, created_at, #plan, charge, cost, model_name, #r.model_id",
        ExpressionAttributeNames={"#s": "status", "#plan": "plan", "#r": "request"},
        ScanIndexForward=False,
        Limit=limit,
    )
    jobs = []
    for item in result.get("Items", []):
        charge = item.get("charge", {}).get("M", {})
        jobs.append(
            {
                "id": _string(item, "id"),
                "kind": _string(item, "kind"),
                "status": _string(item, "status"),
                "created_at": _string(item, "created_at"),
                "plan": _string(item, "plan"),
                "model": _string(item.get("request", {}).get("M", {}), "model_id")
                or _string(item, "model_name"),
                "charge": {k: _string(charge, k) for k in ("state", "unit", "estimate", "amount", "source")}
                if charge
                else None,
            }
        )
    return jobs


def user_usage(
    ddb: Any, table: str, user_id: str, *, plans: Plans, now: datetime, limit: int = 10
) -> dict[str, Any]:
    jobs = recent_jobs(ddb, table, user_id, limit=limit)
    latest_plan = next((job["plan"] for job in jobs if job["plan"]), None)
    found = []
    for period, key in zip(PERIODS, periods(now), strict=True):
        item = ddb.get_item(TableName=table, Key=ledger_key(user_id, period, key), ConsistentRead=True)
        item = item.get("Item", {})
        found.append(_period(period, key, item, _string(item, "plan") or latest_plan, plans))
    return {
        "user_id": user_id,
        "user": pseudonym(user_id),  # as the cost log lines and the budget refusal counts name them
        "plans": plans.source,
        "periods": found,
        "recent_jobs": jobs,
    }


def top(ddb: Any, table: str, *, limit: int, plans: Plans, now: datetime) -> dict[str, Any]:
    ledger = DynamoLedger(ddb, table)
    result: dict[str, Any] = {"plans": plans.source}
    for period, key in zip(PERIODS, periods(now), strict=True):
        spenders = ledger.top(period, key, limit=limit)
        rows = []
        for spender in spenders:
            usage = spender.period
            budget = plans.budget(spender.plan, period)
            rows.append(
                {
                    "user_id": spender.user_id,
                    "user": pseudonym(spender.user_id),
                    "plan": spender.plan,
                    "unit": spender.unit,
                    "committed": _text(usage.committed),
                    "reserved": _text(usage.reserved),
                    "spent": _text(usage.spent),
                    "jobs": spender.jobs,
                    "budget": _text(budget),
                    "remaining": _text(max(budget - usage.committed, Decimal(0)))
                    if budget is not None
                    else None,
                }
            )
        result[period] = {"key": key, "spenders": rows}
    return result
