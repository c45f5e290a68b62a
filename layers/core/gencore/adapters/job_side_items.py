"""What rides in a job write's own transaction, so that nothing can disagree with the job whatever
crashes when: the credit ledger when the job's charge changes (domain/ledger.py, adapters/ledger.py),
its user's count of waiting jobs when it leaves QUEUED (the plan's cap), and the completion event in
the outbox when it ends (domain/events.py, adapters/outbox.py). After the write commits, the
observers hear of it: the charge's cost line and metrics, the event's fast publish.

Mixed into DynamoJobStore.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from gencore.adapters.ddb import values as _values
from gencore.adapters.job_keys import waiting_key
from gencore.adapters.ledger import DynamoLedger, change_updates
from gencore.adapters.outbox import outbox_put
from gencore.domain.events import CompletionEvent, completion_event, is_completion
from gencore.domain.ledger import BudgetExceeded, Pricing, charge_after, delta, resets_at
from gencore.domain.models import Charge, Job, JobStatus
from gencore.domain.plans import Budget

log = logging.getLogger(__name__)

# Told of every committed write that changed a job's charge: (the job as written, before, after).
ChargeObserver = Callable[[Job, Charge | None, Charge], None]


class SideItems:
    """Uses DynamoJobStore's client, table and the observers and pricing it was built with."""

    _db: Any
    _table: str
    _pricing: Pricing
    _on_charge: ChargeObserver | None
    _on_event: Callable[[CompletionEvent], None] | None
    _event_delay: int

    def _charged(self, job: Job, updates: dict[str, Any]) -> dict[str, Any]:
        """`updates` with the job's charge as it stands after them (domain/ledger.py), if it changes,
        and no longer counted as waiting once it leaves QUEUED."""
        if job.waiting_counted and updates.get("status", job.status) != JobStatus.QUEUED:
            updates = updates | {"waiting_counted": False}
        after = charge_after(job, updates, self._pricing)
        return updates | {"charge": after} if after != job.charge else updates

    def _ledger_updates(self, job: Job, updates: dict[str, Any]) -> list[dict[str, Any]]:
        """The per-user side of a job write, for the same transaction: the ledger when the job's
        charge changes; its user's waiting count when a counted job leaves QUEUED."""
        side = []
        if updates.get("waiting_counted") is False and job.waiting_counted:
            side.append(self._count_waiting(job.user_id, -1))
        after = updates.get("charge", job.charge)
        if "charge" not in updates or after is None:
            return side
        return side + change_updates(self._table, job.user_id, after, delta(job.charge, after))

    def _written(self, job: Job, updates: dict[str, Any]) -> Job:
        """The job as a committed write left it; the observer hears of a charge that changed."""
        written = job.model_copy(update=updates)
        after = updates.get("charge")
        if after is not None and after != job.charge:
            self._charge_written(written, job.charge, after)
        return written

    def _charge_written(self, job: Job, before: Charge | None, after: Charge) -> None:
        if self._on_charge is None:
            return
        try:
            self._on_charge(job, before, after)
        except Exception:  # reporting a committed write never fails it
            log.exception("could not report a job's charge", extra={"job_id": job.id})

    def _count_waiting(self, user_id: str, change: int, *, cap: int | None = None) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": waiting_key(user_id),
            "UpdateExpression": "ADD waiting :change",
            "ExpressionAttributeValues": _values(change=change),
        }
        if cap is not None:
            update["ConditionExpression"] = "attribute_not_exists(waiting) OR waiting < :cap"
            update["ExpressionAttributeValues"] |= _values(cap=cap)
        return {"Update": update}

    def _completion(self, job: Job, updates: dict[str, Any]) -> CompletionEvent | None:
        """The completion event of a write that ends the job (domain/events.py), else None."""
        if not is_completion(job.status, JobStatus(updates.get("status", job.status))):
            return None
        return completion_event(job.model_copy(update=updates))

    def _outbox(self, event: CompletionEvent | None) -> list[dict[str, Any]]:
        """The outbox item, in the transaction of the write that ends the job: never lost."""
        return [outbox_put(self._table, event, delay_seconds=self._event_delay)] if event else []

    def _event_written(self, event: CompletionEvent | None) -> None:
        if event is None or self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # best effort: it stays pending, and the reconciler publishes it
            log.exception("could not publish a completion event", extra={"event_id": event.event_id})

    def _over_budget(self, job: Job, period: str, budget: Budget | None) -> BudgetExceeded:
        assert job.charge is not None and budget is not None
        key = job.charge.day if period == "day" else job.charge.month
        limit = budget.per_day if period == "day" else budget.per_month
        assert limit is not None
        used = DynamoLedger(self._db, self._table).period(job.user_id, period, key).committed
        return BudgetExceeded(
            f"This job's estimate ({job.charge.estimate} {job.charge.unit}) is over what is left of your "
            f"{'daily' if period == 'day' else 'monthly'} budget",
            period=period, remaining=max(limit - used, Decimal(0)), unit=job.charge.unit,
            resets_at=resets_at(period, key),
        )  # fmt: skip
