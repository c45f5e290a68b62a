"""The batch worker: makes a batch's jobs from its items file, and cancels or expires its waiting ones.

**Fan-out, checkpointed.** Items are made in line order, a chunk at a time: each chunk's jobs and the
batch's checkpoint (`created`) are one write, conditioned on the checkpoint read (BatchStore.
add_items). A crash or a timeout anywhere leaves every item either made and counted or neither, and
the next run goes on from the checkpoint: nothing lost, nothing made twice (an item's job id is
derived from the batch and its custom_id too, so even a second write of one could not make a
second job). A run near its time limit sends itself on. The file is streamed: memory stays one
chunk whatever the batch's size.

Items enter the waiting line at their user's turns (domain/waiting.py) as they are made, like any
job that finds no free slot: the same hand-over, caps and fairness, so a batch of thousands does not
starve other users' jobs. A run's first chunk wakes as many items as there are free slots; after
that, each slot given back wakes the line's next turn.

**Cancel and deadline.** A cancelled batch makes no more items; its waiting items are cancelled
(their reservations released) and items at Leonardo finish. At the batch's deadline, its items
still waiting fail `batch_deadline_exceeded` (their reservations released); a fan-out still running
then goes on making the rest, which fail the same way at the next expire, so every line has its
result. The reservation not yet assigned to an item is released when the fan-out ends (at once for
a cancel), and the batch ends once every item made has ended (BatchStore.finish).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .batch_ports import BatchFiles, BatchQueue, BatchStore
from .batch_records import Batch, BatchStatus
from .batches import item_job_id
from .errors import TransitionConflict
from .models import BatchItemRef, Charge, Job, JobStatus
from .policy import Clock, Policy, epoch
from .ports import JobStore
from .waiting import Waker

log = logging.getLogger(__name__)

CHUNK = 25  # items per checkpointed write (a DynamoDB transaction takes up to 100 items)
RESERVE_SECONDS = 20.0  # a run sends itself on when less than this is left of its time
CHECK_EVERY_SECONDS = 60  # the reconciler looks at a batch not ended this often
STALLED_SECONDS = 120  # a fan-out whose checkpoint has not moved for this long is sent again
DEADLINE_MESSAGE = "The batch's deadline passed before this item started"

Remaining = Callable[[], float]


class BatchWorker:
    def __init__(
        self,
        store: BatchStore,
        files: BatchFiles,
        queue: BatchQueue,
        jobs: JobStore,
        waker: Waker,
        clock: Clock,
        policy: Policy,
    ) -> None:
        self._store, self._files, self._queue, self._jobs = store, files, queue, jobs
        self._waker, self._clock, self._policy = waker, clock, policy

    def handle(self, batch_id: str, action: str, *, remaining: Remaining | None = None) -> str:
        if action == "fan_out":
            return self.fan_out(batch_id, remaining=remaining)
        if action in ("cancel", "expire"):
            return self.end_waiting(batch_id, expire=action == "expire", remaining=remaining)
        raise ValueError(f"unknown batch action {action!r}")

    # --- fan-out ---------------------------------------------------------------------------------
    def fan_out(self, batch_id: str, *, remaining: Remaining | None = None) -> str:
        """Make the batch's items from its checkpoint on; returns what became of the run."""
        batch = self._store.get_batch(batch_id)
        if batch is None:
            return "missing"
        if batch.fanned_out:
            self._finish(batch.id)
            return "done"
        if batch.status != BatchStatus.RUNNING:
            return self._stop(batch)
        lines = itertools.islice(self._files.read_lines(batch.items_key), batch.created, None)
        first = True
        while chunk := [json.loads(raw) for raw in itertools.islice(lines, CHUNK)]:
            added = self._add(batch, chunk)
            if added is None:
                return "superseded"  # another run moved the checkpoint on, or the batch was cancelled
            batch = added
            if first:
                # Slots free now go to the line at once; from here on each release wakes the line's
                # next turn. (Waking after every chunk would wake items whose wake is still on its way
                # to a slot again: they park back at their turns, and the head runs ahead of them.)
                self._waker.wake_free()
                first = False
            if remaining is not None and remaining() < RESERVE_SECONDS and batch.created < batch.items:
                self._queue.send(batch.id)  # the next run goes on from the checkpoint
                return "continued"
        return self._stop(batch)

    def _add(self, batch: Batch, chunk: list[dict[str, Any]]) -> Batch | None:
        now = self._clock()
        jobs = [self._job(batch, item, now) for item in chunk]
        try:
            return self._store.add_items(batch, jobs, now=now)
        except TransitionConflict:
            return None

    def _job(self, batch: Batch, item: dict[str, Any], now: datetime) -> Job:
        charge = None
        if batch.charge is not None and item["estimate"] is not None:
            charge = Charge(
                state="reserved", unit=batch.charge.unit, estimate=item["estimate"],
                day=batch.charge.day, month=batch.charge.month,
            )  # fmt: skip
        return Job(
            id=item_job_id(batch.id, item["custom_id"]),
            user_id=batch.user_id,
            kind=item["kind"],
            status=JobStatus.QUEUED,
            request=item["request"],
            source=item["source"],
            model_name=item["model_name"],
            leonardo_seed=item["seed"],
            created_at=now,
            updated_at=now,
            plan=batch.plan,
            charge=charge,
            queue_deadline=batch.deadline_at,
            batch=BatchItemRef(batch_id=batch.id, custom_id=item["custom_id"], line=item["line"]),
        )

    def _stop(self, batch: Batch) -> str:
        """No more items: release what is unassigned, and end the batch if its items all have."""
        try:
            self._store.end_fanout(batch, now=self._clock())
        except TransitionConflict:
            return "superseded"
        self._finish(batch.id)
        return "fanned_out"

    # --- cancel / deadline -----------------------------------------------------------------------
    def end_waiting(self, batch_id: str, *, expire: bool, remaining: Remaining | None = None) -> str:
        """Cancel (or, past the deadline, fail) the batch's items still waiting here."""
        batch = self._store.get_batch(batch_id)
        if batch is None:
            return "missing"
        if not expire and batch.status == BatchStatus.CANCELLING and not batch.fanned_out:
            self._stop(batch)  # no more items: they would only be cancelled
        ended, cursor = 0, None
        while True:
            jobs, cursor = self._store.items(batch_id, limit=100, cursor=cursor)
            for job in jobs:
                if job.status != JobStatus.QUEUED:
                    continue
                failure = ("batch_deadline_exceeded", DEADLINE_MESSAGE) if expire else None
                try:
                    self._jobs.cancel(job, now=self._clock(), failure=failure)
                    ended += 1
                except TransitionConflict:
                    continue  # a submitter holds it: it goes to Leonardo and finishes there
            if cursor is None:
                break
            if remaining is not None and remaining() < RESERVE_SECONDS:
                self._queue.send(batch_id, action="expire" if expire else "cancel")
                return "continued"
        log.info("batch items ended", extra={"batch_id": batch_id, "ended": ended, "expired": expire})
        self._finish(batch_id)
        return "ended"

    # --- the reconciler's check ------------------------------------------------------------------
    def check_due(self, *, limit: int = 50) -> dict[str, int]:
        """The reconciler's run: check each batch due (see `check`); outcomes counted."""
        outcomes: dict[str, int] = {}
        for batch_id in self._store.due_batch_ids(now=epoch(self._clock()), limit=limit):
            try:
                outcome = self.check(batch_id)
            except Exception:  # one batch's trouble does not stop the others' checks
                log.exception("batch check failed", extra={"batch_id": batch_id})
                outcome = "error"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    def check(self, batch_id: str) -> str:
        """The safety net, for each batch due: a lost or stalled fan-out or cancel is sent again,
        waiting items past the deadline are expired, a finish that was missed is made."""
        batch = self._store.get_batch(batch_id)
        if batch is None:
            return "missing"
        now = self._clock()
        outcome = "checked"
        if batch.status == BatchStatus.CANCELLING:
            self._queue.send(batch.id, action="cancel")
            outcome = "cancel_resent"
        elif not batch.fanned_out and (now - batch.updated_at).total_seconds() >= STALLED_SECONDS:
            self._queue.send(batch.id)
            outcome = "fan_out_resent"
        elif (
            batch.deadline_at is not None and epoch(now) > batch.deadline_at and batch.count(JobStatus.QUEUED)
        ):
            self._queue.send(batch.id, action="expire")
            outcome = "expire_sent"
        finished = self._finish(batch.id)
        if finished is not None and not finished.status.ended:
            self._store.reschedule_batch(finished, due_at=epoch(now) + CHECK_EVERY_SECONDS)
        return outcome

    def _finish(self, batch_id: str) -> Batch | None:
        return self._store.finish(batch_id, now=self._clock())
