"""What operators are told about money, one job at a time: each change of a job's charge (reserved
at accept, settled, released) as one report, and a user named only by a pseudonym.

The job store calls its observer after every write that changed a job's charge (the write that
also moved the ledger); the observer (gencore/spend_log.py) turns a report into a log line and
metrics. A report never carries a prompt or anything else the user wrote, and never the user's id:
`pseudonym` is a stable hash, so one user's lines can be followed and counted (Contributor Insights
keys on it) and an operator who knows an id can find its lines (`python -m ops usage --user U`
prints it), but a log reader cannot list who spent what.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from .ledger import decimal_text

if TYPE_CHECKING:
    from .models import Charge, Job

ChargeEvent = Literal["reserved", "settled", "released"]


def pseudonym(user_id: str) -> str:
    """A user's stable stand-in in logs and metrics: 16 hex digits of SHA-256, never the id itself."""
    return hashlib.sha256(f"user:{user_id}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ChargeReport:
    """One change of one job's charge, in the deployment's billing unit."""

    event: ChargeEvent
    job_id: str
    user: str  # pseudonym(user_id)
    plan: str | None
    kind: str
    model: str | None  # the model id the job asked for (a Leonardo UUID), if any
    images: int  # images asked for
    unit: str  # CREDITS | DOLLARS
    reserved: Decimal  # the estimate reserved at accept
    settled: Decimal | None  # what it counts as spent, once settled
    source: str | None  # where the settled amount came from: leonardo | estimate
    amount: Decimal  # what this change moved: reserved, settled, or given back

    def fields(self) -> dict[str, object]:
        """The log line's keys (amounts as decimal strings)."""
        return {
            "charge_event": self.event, "job_id": self.job_id, "user": self.user, "plan": self.plan,
            "kind": self.kind, "model": self.model, "images": self.images, "unit": self.unit,
            "reserved": decimal_text(self.reserved),
            "settled": None if self.settled is None else decimal_text(self.settled),
            "settled_from": self.source,
        }  # fmt: skip


def charge_report(job: Job, before: Charge | None, after: Charge | None) -> ChargeReport | None:
    """The report of `job`'s charge moving from `before` to `after`; None when its state did not move."""
    if after is None or (before is not None and before.state == after.state):
        return None
    reserved = Decimal(after.estimate)
    if after.state == "reserved":
        amount = reserved
    elif after.state == "settled":
        amount = Decimal(after.amount or "0")
    elif before is not None and before.state == "settled":  # released after settling: a refund
        amount = Decimal(before.amount or "0")
    else:  # released: the reservation given back
        amount = reserved
    settled = Decimal(after.amount) if after.state == "settled" and after.amount is not None else None
    images = job.request.get("num_images")
    return ChargeReport(
        event=after.state, job_id=job.id, user=pseudonym(job.user_id), plan=job.plan, kind=job.kind,
        model=job.request.get("model_id") if isinstance(job.request.get("model_id"), str) else None,
        images=images if isinstance(images, int) and images > 0 else 1, unit=after.unit,
        reserved=reserved, settled=settled, source=after.source if after.state == "settled" else None,
        amount=amount,
    )  # fmt: skip
