"""Completion events: what apps hear when a job ends (docs/events.md), and their relay to the bus.

A job's terminal write (COMPLETE, FAILED, CANCELLED; not DELETED) carries its event in the same
DynamoDB transaction: the outbox (adapters/outbox.py). A crash between the write and the publish
therefore cannot lose the event. The writer publishes it right after the write (the fast path, best
effort), and the reconciler publishes whatever is still pending (the safety net). Both publish the
same stored event, so every copy carries the same `event_id` and consumers drop repeats by it
(EventBridge's PutEvents has no idempotency key: delivery is at least once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict

from .models import Job, JobStatus

if TYPE_CHECKING:
    from .batch_records import Batch

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"  # detail.version: a field removed or changed in meaning is a new version
EVENT_SOURCE = "leonardo-backend"  # the events' `source`, what rules match on (the service's name)
DETAIL_TYPES: dict[JobStatus, str] = {
    JobStatus.COMPLETE: "Generation Completed",
    JobStatus.FAILED: "Generation Failed",
    JobStatus.CANCELLED: "Generation Cancelled",
}
# The writer's head start (default): the safety net takes an event only this long after its job
# ended, so it rarely publishes one the fast path is publishing at that moment (a repeat, harmless).
SAFETY_NET_DELAY_SECONDS = 30


class CompletionEvent(BaseModel):
    """One event as stored in the outbox and put on the bus."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    detail_type: str
    occurred_at: datetime  # when the job ended: the terminal write's time
    detail: dict[str, Any]

    def publishable_at(self, delay_seconds: int = SAFETY_NET_DELAY_SECONDS) -> datetime:
        """From when the safety net publishes it if the fast path did not."""
        return self.occurred_at + timedelta(seconds=delay_seconds)


def event_id(job_id: str, status: JobStatus) -> str:
    """Stable: derived from the job and the status it ended in, the same in every repeat.

    (No '.': the id is also the outbound webhooks' `webhook-id`.)
    """
    return f"{job_id}:{status}"


def is_completion(before: JobStatus, after: JobStatus) -> bool:
    """A write that ends a job (DELETED, which only follows an end, is not one)."""
    return after in DETAIL_TYPES and before != after


def completion_event(job: Job) -> CompletionEvent:
    """The event of `job` as its terminal write leaves it."""
    if job.status not in DETAIL_TYPES:
        raise ValueError(f"a job {job.status} has no completion event")
    detail = completion_detail(job)
    return CompletionEvent(
        event_id=detail["event_id"],
        detail_type=DETAIL_TYPES[job.status],
        occurred_at=job.updated_at,
        detail=detail,
    )


def completion_detail(job: Job) -> dict[str, Any]:
    """The event's detail, schema version 1 (docs/events.md): plain JSON values only."""
    return {
        "version": SCHEMA_VERSION,
        "event_id": event_id(job.id, job.status),
        "job_id": job.id,
        "user_id": job.user_id,
        "kind": job.kind,
        "status": str(job.status),
        "error_code": job.error_code,
        # Our copies of the images (S3 keys in the output bucket); withheld images have none.
        "output_keys": [image.key for image in job.images if image.key],
        "cost": cost_of(job),
        "plan": job.plan,
        "source": lineage_of(job),
        "created_at": _iso(job.created_at),
        "finished_at": _iso(job.updated_at),
    }


def cost_of(job: Job) -> dict[str, Any] | None:
    """`{"amount", "unit", "source"}`, as the job view and its event show it: what Leonardo
    reported, else what the job counts as in the ledger (settled at its estimate, or its estimate
    while reserved); None once released or for a job of no plan. Records from before `cost` carry
    credits only."""
    if job.cost is not None:
        return job.cost.model_dump(mode="json")
    if job.api_credit_cost is not None:
        return {"amount": format(job.api_credit_cost, "g"), "unit": "CREDITS", "source": "leonardo"}
    charge = job.charge
    if charge is None or charge.state == "released":
        return None
    amount = charge.amount if charge.state == "settled" else charge.estimate
    return {"amount": amount, "unit": charge.unit, "source": charge.source or "estimate"}


def lineage_of(job: Job) -> dict[str, Any] | None:
    """The job's `source`; jobs accepted before `source` existed named their upload in the request."""
    if job.source:
        return job.source
    upload_id = job.request.get("init_upload_id")
    return {"upload_id": upload_id} if upload_id else None


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- the relay: outbox -> bus ------------------------------------------------------------------------


class Outbox(Protocol):
    def pending(self, *, now: datetime, limit: int) -> list[CompletionEvent]:
        """Events not published yet whose `publishable_at` has come, oldest first."""

    def mark_published(self, event: CompletionEvent, *, now: datetime) -> None:
        """No longer pending (kept a while, then expired)."""


class EventBus(Protocol):
    def publish(self, events: Sequence[CompletionEvent]) -> set[str]:
        """Put the events on the bus; the ids of those it accepted."""


class EventRelay:
    """Publishes stored events and marks them published. Never raises: an event it could not
    publish stays pending, and the next safety-net run publishes it (with the same id)."""

    def __init__(self, outbox: Outbox, bus: EventBus, clock: Callable[[], datetime]) -> None:
        self._outbox, self._bus, self._clock = outbox, bus, clock

    def publish(self, events: Sequence[CompletionEvent]) -> int:
        """The fast path (and each page of the safety net): how many were published."""
        if not events:
            return 0
        try:
            accepted = self._bus.publish(events)
        except Exception as error:
            log.warning(
                "completion events not published: left pending",
                extra={"event_ids": [e.event_id for e in events], "error": type(error).__name__},
            )
            return 0
        for event in events:
            if event.event_id not in accepted:
                log.warning("the bus refused an event: left pending", extra={"event_id": event.event_id})
                continue
            try:
                self._outbox.mark_published(event, now=self._clock())
            except Exception as error:  # published, still pending: the safety net repeats it (same id)
                log.warning(
                    "a published event is still marked pending",
                    extra={"event_id": event.event_id, "error": type(error).__name__},
                )
        return len(accepted)

    def drain(self, *, page: int = 10, max_pages: int = 20) -> dict[str, int]:
        """The safety net: publish what is pending, a page (one PutEvents) at a time."""
        published = failed = 0
        for _ in range(max_pages):
            try:
                events = self._outbox.pending(now=self._clock(), limit=page)
            except Exception as error:
                log.warning("pending completion events not read", extra={"error": type(error).__name__})
                break
            done = self.publish(events)
            published, failed = published + done, failed + len(events) - done
            if len(events) < page or done == 0:
                break  # nothing more, or the bus refuses: the next run tries again
        return {"published": published, "failed": failed}


BATCH_COMPLETED = "Batch Completed"


def batch_completed_event(batch: Batch) -> CompletionEvent:
    """A batch's event once every item it made has ended (COMPLETE, or CANCELLED after a cancel)."""
    assert batch.finished_at is not None
    event_id = f"batch-{batch.id}:{batch.status}"  # stable, like a job's (no '.': a webhook-id too)
    detail: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "event_id": event_id,
        "batch_id": batch.id,
        "user_id": batch.user_id,
        "name": batch.name,
        "status": str(batch.status),
        "items": batch.created,
        "skipped": batch.skipped,
        "counts": {state: batch.counts.get(state, 0) for state in ("COMPLETE", "FAILED", "CANCELLED")},
        "credits": {"unit": batch.unit, "reserved": batch.reserved, "spent": batch.spent},
        "plan": batch.plan,
        "created_at": _iso(batch.created_at),
        "finished_at": _iso(batch.finished_at),
    }
    return CompletionEvent(
        event_id=event_id, detail_type=BATCH_COMPLETED, occurred_at=batch.finished_at, detail=detail
    )
