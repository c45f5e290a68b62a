"""The credit ledger: what each user may spend per day and per month, what their jobs have
reserved, and what they spent.

A job's accept **reserves** its estimate against the user's budgets in the same write that stores
the job (the store refuses it when the period would go over: 402 `budget_exceeded`). From then on
the job carries its `Charge`, and every write that moves the job applies `charge_after` in the same
transaction, so the ledger can never disagree with the job:

- Leonardo reports a cost (the POST's answer): **settled** at that cost;
- the job ends COMPLETE, or FAILED after Leonardo may have run it, with no cost reported:
  **settled** at the estimate (DECISIONS: an adopted job settles at its estimate);
- the job ends without a paid generation (CANCELLED, FAILED before anything was sent, refused by
  Leonardo, or a generation Leonardo reports FAILED, which it does not charge): **released**.

Amounts are decimals in the deployment's billing unit (`BillingUnit`: CREDITS or DOLLARS). A cost
Leonardo reports in the other unit is converted at the configured price of a credit.

Per period (a UTC day, a UTC month) the store keeps `committed` (= reserved + spent) as one number,
so "would this reservation go over?" is one condition: `committed <= budget - amount`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from .errors import DomainError
from .models import Charge, Cost, Job, JobStatus, Unit

# A generation Leonardo itself reports FAILED is not charged (its refund; the simulator does alike).
UNCHARGED_FAILURES = frozenset({"generation_failed"})


@dataclass(frozen=True)
class Pricing:
    """How reported costs become amounts in the billing unit."""

    unit: Unit = "CREDITS"
    dollars_per_credit: Decimal | None = None  # to convert a cost reported in the other unit

    def amount_of(self, cost: Cost) -> Decimal | None:
        """A reported cost in the billing unit; None when it cannot be converted."""
        amount = Decimal(cost.amount)
        if cost.unit == self.unit:
            return amount
        if self.dollars_per_credit is None or self.dollars_per_credit <= 0:
            return None
        rate = self.dollars_per_credit
        return amount * rate if self.unit == "DOLLARS" else amount / rate


@dataclass(frozen=True)
class Delta:
    """A change to one user's periods: committed = reserved + spent."""

    reserved: Decimal = Decimal(0)
    spent: Decimal = Decimal(0)

    @property
    def committed(self) -> Decimal:
        return self.reserved + self.spent

    def __bool__(self) -> bool:
        return bool(self.reserved or self.spent)

    def __sub__(self, other: Delta) -> Delta:
        return Delta(reserved=self.reserved - other.reserved, spent=self.spent - other.spent)


class BudgetExceeded(DomainError):
    """402 `budget_exceeded`: the reservation would take a period over the user's budget."""

    code = "budget_exceeded"

    def __init__(self, message: str, *, period: str, remaining: Decimal, unit: Unit, resets_at: datetime):
        super().__init__(message)
        self.period, self.remaining, self.unit, self.resets_at = period, remaining, unit, resets_at

    @property
    def details(self) -> dict[str, str]:
        return {
            "period": self.period,
            "remaining": format(self.remaining.normalize(), "f"),
            "unit": self.unit,
            "resets_at": self.resets_at.isoformat().replace("+00:00", "Z"),
        }


def periods(now: datetime) -> tuple[str, str]:
    """The UTC day and month `now` falls in: "2026-12-04", "2026-12"."""
    return now.strftime("%Y-%m-%d"), now.strftime("%Y-%m")


def resets_at(period: str, key: str) -> datetime:
    """When the period named `key` ends (UTC)."""
    if period == "day":
        return datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
    start = datetime.strptime(key + "-01", "%Y-%m-%d").replace(tzinfo=UTC)
    return (start + timedelta(days=32)).replace(day=1)


def reserve(estimate: Decimal, unit: Unit, now: datetime) -> Charge:
    day, month = periods(now)
    return Charge(state="reserved", unit=unit, estimate=decimal_text(estimate), day=day, month=month)


def charge_after(job: Job, updates: dict[str, Any], pricing: Pricing) -> Charge | None:
    """The job's charge once `updates` (a store write's fields) apply: see the module's rules."""
    charge = job.charge
    if charge is None or charge.state == "released":
        return charge
    status = updates.get("status", job.status)
    cost = updates.get("cost")  # a cost reported by this write (one already on the job was settled)
    amount = pricing.amount_of(cost) if isinstance(cost, Cost) else None
    if charge.state == "reserved" and amount is not None:
        charge = charge.model_copy(
            update={"state": "settled", "amount": decimal_text(amount), "source": "leonardo"}
        )
    if not JobStatus(status).terminal or status == JobStatus.DELETED:
        return charge
    if not _may_have_been_paid(job, updates):
        return charge.model_copy(update={"state": "released", "amount": None, "source": None})
    if charge.state == "reserved":
        return charge.model_copy(update={"state": "settled", "amount": charge.estimate, "source": "estimate"})
    return charge


def delta(before: Charge | None, after: Charge | None) -> Delta:
    """What moving from `before` to `after` changes in the user's periods."""
    if before is None or after is None or before == after:
        return Delta()
    return _held(after) - _held(before)


def _held(charge: Charge) -> Delta:
    if charge.state == "reserved":
        return Delta(reserved=Decimal(charge.estimate))
    if charge.state == "settled":
        return Delta(spent=Decimal(charge.amount or "0"))
    return Delta()


def _may_have_been_paid(job: Job, updates: dict[str, Any]) -> bool:
    status = updates.get("status", job.status)
    if status == JobStatus.CANCELLED:
        return False  # only while QUEUED with no POST that may be unanswered
    if status == JobStatus.COMPLETE:
        return True
    error = updates.get("error_code", job.error_code)
    if error in UNCHARGED_FAILURES:
        return False
    generation_id = updates.get("generation_id", job.generation_id)
    uncertain = updates.get("submit_uncertain_since", job.submit_uncertain_since)
    return bool(generation_id) or uncertain is not None or error == "submit_outcome_unknown"


def decimal_text(amount: Decimal) -> str:
    """An amount as the records keep it: a plain decimal string, no exponent, no trailing zeros."""
    return format(amount.normalize(), "f") if amount else "0"


@dataclass(frozen=True)
class Period:
    """One of a user's periods as the ledger holds it."""

    period: str  # "day" or "month"
    key: str  # "2026-12-04" or "2026-12"
    reserved: Decimal
    spent: Decimal

    @property
    def committed(self) -> Decimal:
        return self.reserved + self.spent


class LedgerReader(Protocol):
    def period(self, user_id: str, period: str, key: str) -> Period: ...


@dataclass(frozen=True)
class PeriodUsage:
    period: Period
    budget: Decimal
    resets_at: datetime

    @property
    def remaining(self) -> Decimal:
        return max(self.budget - self.period.committed, Decimal(0))


@dataclass(frozen=True)
class Usage:
    """What `GET /v1/usage` shows: the caller's plan, and per period what is spent, reserved, left."""

    plan: str
    unit: Unit
    day: PeriodUsage
    month: PeriodUsage


def usage_of(
    ledger: LedgerReader, user_id: str, plan: str, budget_per_day: Decimal, budget_per_month: Decimal,
    unit: Unit, now: datetime,
) -> Usage:  # fmt: skip
    day, month = periods(now)
    today = PeriodUsage(ledger.period(user_id, "day", day), budget_per_day, resets_at("day", day))
    used = ledger.period(user_id, "month", month)
    this_month = PeriodUsage(used, budget_per_month, resets_at("month", month))
    return Usage(plan=plan, unit=unit, day=today, month=this_month)
