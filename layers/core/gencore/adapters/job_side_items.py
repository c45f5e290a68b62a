"""What rides in a job write's own transaction, so that nothing can disagree with the job whatever
crashes when: the credit ledger when the job's charge changes (domain/ledger.py, adapters/ledger.py),
its user's count of waiting jobs when it leaves QUEUED (the plan's cap), a batch item's batch
counters (domain/batch_records.py), and the completion event in the outbox when it ends
(domain/events.py, adapters/outbox.py). After the write commits, the observers hear of it: the
charge's cost line and metrics, the event's fast publish, a batch item's end (its batch may end).

Mixed into DynamoJobStore.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from gencore.adapters.ddb import decimal_value
from gencore.adapters.ddb import values as _values
from gencore.adapters.job_keys import batch_key, waiting_key
from gencore.adapters.ledger import budget_refusal, change_updates
from gencore.adapters.outbox import outbox_put
from gencore.domain.events import CompletionEvent, completion_event, is_completion
from gencore.domain.ledger import BudgetExceeded, Delta, Pricing, charge_after, delta
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
    _on_item_ended: Callable[[str], None] | None
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
        change = delta(job.charge, after) if "charge" in updates and after is not None else Delta()
        if change:
            assert after is not None
            side += change_updates(self._table, job.user_id, after, change)
        return side + self._batch_counts(job, JobStatus(updates.get("status", job.status)), change)

    def _batch_counts(self, job: Job, to: JobStatus, change: Delta) -> list[dict[str, Any]]:
        """A batch item's write moves its batch's counters (domain/batch_records.py) with it."""
        if job.batch is None or (to == job.status and not change):
            return []
        adds: dict[str, Decimal | int] = {}
        if to != job.status:
            adds |= {f"n_{job.status}": -1, f"n_{to}": 1}
            if to.terminal and not job.status.terminal:
                adds["done"] = 1
        if change:
            adds |= {"reserved": change.reserved, "spent": change.spent}
        names = {f"#a{i}": name for i, name in enumerate(adds)}
        return [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": batch_key(job.batch.batch_id),
                    "UpdateExpression": "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(adds))),
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {
                        f":a{i}": decimal_value(Decimal(value)) for i, value in enumerate(adds.values())
                    },
                }
            }
        ]

    def _written(self, job: Job, updates: dict[str, Any]) -> Job:
        """The job as a committed write left it; the observer hears of a charge that changed."""
        written = job.model_copy(update=updates)
        after = updates.get("charge")
        if after is not None and after != job.charge:
            self._charge_written(written, job.charge, after)
        if job.batch is not None and written.status.terminal and not job.status.terminal:
            self._item_ended(job.batch.batch_id)
        return written

    def _item_ended(self, batch_id: str) -> None:
        if self._on_item_ended is None:
            return
        try:
            self._on_item_ended(batch_id)
        except Exception:  # best effort: the reconciler's batch check finishes it
            log.exception("could not finish a batch", extra={"batch_id": batch_id})

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
        return budget_refusal(self._db, self._table, job.user_id, job.charge, period, budget, what="job")
