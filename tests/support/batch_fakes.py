"""In-memory fakes of the batch ports (domain/batch_ports.py), for the batch use-case specs.

FakeBatchStore keeps the rules of adapters/batch_store.py that the use cases rely on: the fan-out's
checkpoint conditioned on the batch still RUNNING with `created` as read, its end conditioned on
`created`, a finish only once no more items will be made and every item made has ended, an
Idempotency-Key naming the batch that holds it, the whole estimate reserved (or refused) with the
batch. Items are jobs of a FakeJobStore, parked in its waiting line at their user's turns; the
counters the real store keeps in each item's write (`counts`, `done`) are read off those jobs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal

from gencore.domain.batch_records import Batch, BatchStatus, decimal_text
from gencore.domain.errors import TransitionConflict
from gencore.domain.events import batch_completed_event
from gencore.domain.ledger import BudgetExceeded, Delta, resets_at
from gencore.domain.models import Job
from gencore.domain.plans import Budget
from gencore.domain.policy import epoch
from gencore.domain.waiting import turn_of
from tests.support.fakes import FakeJobStore

FIRST_CHECK_SECONDS = 60  # the adapter's first check of a new batch


class FakeBatchStore:
    """The BatchStore port in memory, over `jobs` (the items).

    `before_write(name, batch)` runs at the start of each conditional write (`add_items`,
    `end_fanout`, `set_status`), before its condition is checked: a test makes a concurrent writer
    act there. `refuse_budget(batch, budget)` may raise to refuse the reservation instead of the
    ledger's own check."""

    def __init__(
        self,
        jobs: FakeJobStore,
        *,
        before_write: Callable[[str, Batch], None] | None = None,
        refuse_budget: Callable[[Batch, Budget | None], None] | None = None,
    ) -> None:
        self.jobs = jobs
        self.batches: dict[str, Batch] = {}
        self.dedupe: dict[str, tuple[str, int]] = {}  # Idempotency-Key hash -> (batch id, expires at)
        self.due: dict[str, int] = {}  # batch id -> when its check is due (not ended only)
        self.before_write = before_write
        self.refuse_budget = refuse_budget
        self.add_items_calls: list[int] = []  # the size of each successful checkpoint write
        self._lock = threading.RLock()

    # --- set-up helpers ----------------------------------------------------------------------
    def put(self, batch: Batch, *, due_at: int | None = None) -> Batch:
        with self._lock:
            self.batches[batch.id] = batch
            if not batch.status.ended:
                self.due[batch.id] = due_at if due_at is not None else epoch(batch.created_at)
            return self.get_batch(batch.id)  # type: ignore[return-value]

    def item_jobs(self, batch_id: str) -> list[Job]:
        with self._lock:
            found = [j for j in self.jobs.jobs.values() if j.batch and j.batch.batch_id == batch_id]
            return sorted(found, key=lambda j: j.batch.line if j.batch else 0)

    # --- the port ----------------------------------------------------------------------------
    def create_batch(
        self, batch: Batch, *, dedupe_key: str | None, dedupe_expires_at: int, budget: Budget | None
    ) -> Batch | None:
        with self._lock:
            holder = self.dedupe.get(dedupe_key) if dedupe_key is not None else None
            if holder is not None and holder[1] >= epoch(batch.created_at):  # an expired key is free again
                return self.get_batch(holder[0])
            if batch.id in self.batches:
                raise TransitionConflict(f"batch {batch.id} exists")
            if self.refuse_budget is not None:
                self.refuse_budget(batch, budget)
            if batch.charge is not None:
                self._reserve(batch, budget)
            if dedupe_key is not None:
                self.dedupe[dedupe_key] = (batch.id, dedupe_expires_at)
            self.batches[batch.id] = batch
            self.due[batch.id] = epoch(batch.created_at) + FIRST_CHECK_SECONDS
            return None

    def _reserve(self, batch: Batch, budget: Budget | None) -> None:
        charge = batch.charge
        assert charge is not None
        amount = Decimal(charge.estimate)
        for period, key in (("day", charge.day), ("month", charge.month)):
            limit = None if budget is None else (budget.per_day if period == "day" else budget.per_month)
            used = self.jobs.spent(batch.user_id, period, key).committed
            if limit is not None and used + amount > limit:
                raise BudgetExceeded("over budget", period=period, remaining=max(limit - used, Decimal(0)),
                                     unit=charge.unit, resets_at=resets_at(period, key))  # fmt: skip
        self.jobs._move(batch.user_id, charge.day, charge.month, Delta(reserved=amount))

    def get_batch(self, batch_id: str) -> Batch | None:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return None
            items = self.item_jobs(batch_id)
            if not items:
                return batch
            counts: dict[str, int] = {}
            for job in items:
                counts[str(job.status)] = counts.get(str(job.status), 0) + 1
            return batch.model_copy(
                update={"counts": counts, "done": sum(1 for j in items if j.status.terminal)}
            )

    def list_batches(self, user_id: str, *, limit: int, cursor: str | None) -> tuple[list[Batch], str | None]:
        with self._lock:
            mine = sorted(
                (b for b in self.batches.values() if b.user_id == user_id),
                key=lambda b: (b.created_at, b.id),
                reverse=True,
            )
            start = int(cursor or 0)
            page = [self.get_batch(b.id) for b in mine[start : start + limit]]
            more = start + limit < len(mine)
            return [b for b in page if b is not None], (str(start + limit) if more else None)

    def add_items(self, batch: Batch, jobs: list[Job], *, now: datetime) -> Batch:
        if self.before_write is not None:
            self.before_write("add_items", batch)
        with self._lock:
            current = self.batches.get(batch.id)
            if current is None or current.status != BatchStatus.RUNNING or current.created != batch.created:
                raise TransitionConflict(f"batch {batch.id} moved on (cancelled, or another run)")
            if any(job.id in self.jobs.jobs for job in jobs):
                raise TransitionConflict("an item's job exists already")  # the puts' condition
            store = self.jobs
            head = store.line_head if store.line_head is not None else epoch(now)
            first = turn_of(head, store.last_turns.get(batch.user_id))
            for offset, job in enumerate(jobs):
                turn = first + offset
                store.jobs[job.id] = job.model_copy(update={"due_at": turn, "line_turn": turn})
                store.partition[job.id] = "L"
            if jobs:
                store.last_turns[batch.user_id] = first + len(jobs) - 1
            taken = sum((Decimal(j.charge.estimate) for j in jobs if j.charge is not None), Decimal(0))
            self.batches[batch.id] = current.model_copy(
                update={
                    "created": current.created + len(jobs), "updated_at": now,
                    "unassigned": decimal_text(Decimal(current.unassigned) - taken),
                    "started_at": current.started_at or now,
                }
            )  # fmt: skip
            self.add_items_calls.append(len(jobs))
            return self.get_batch(batch.id)  # type: ignore[return-value]

    def end_fanout(self, batch: Batch, *, now: datetime) -> Batch:
        if self.before_write is not None:
            self.before_write("end_fanout", batch)
        with self._lock:
            current = self.batches.get(batch.id)
            if current is None:
                raise TransitionConflict(f"no batch {batch.id}")
            if current.fanned_out:
                return self.get_batch(batch.id)  # type: ignore[return-value]
            if current.created != batch.created:
                raise TransitionConflict(f"batch {batch.id}'s fan-out moved on")
            rest = Decimal(current.unassigned)
            charge = current.charge
            if charge is not None and rest:
                self.jobs._move(current.user_id, charge.day, charge.month, Delta(reserved=-rest))
            self.batches[batch.id] = current.model_copy(
                update={
                    "fanned_out": True, "unassigned": "0", "updated_at": now,
                    "reserved": decimal_text(Decimal(current.reserved) - rest),
                }
            )  # fmt: skip
            return self.get_batch(batch.id)  # type: ignore[return-value]

    def set_status(self, batch: Batch, status: BatchStatus, *, now: datetime) -> Batch:
        if self.before_write is not None:
            self.before_write("set_status", batch)
        with self._lock:
            current = self.batches.get(batch.id)
            if current is None or current.status != batch.status:
                raise TransitionConflict(f"batch {batch.id} is no longer {batch.status}")
            self.batches[batch.id] = current.model_copy(update={"status": status, "updated_at": now})
            return self.get_batch(batch.id)  # type: ignore[return-value]

    def finish(self, batch_id: str, *, now: datetime) -> Batch | None:
        with self._lock:
            batch = self.get_batch(batch_id)
            if batch is None or batch.status.ended or not batch.fanned_out or batch.done < batch.created:
                return batch
            to = BatchStatus.CANCELLED if batch.status == BatchStatus.CANCELLING else BatchStatus.COMPLETE
            ended = batch.model_copy(update={"status": to, "finished_at": now, "updated_at": now})
            self.batches[batch_id] = self.batches[batch_id].model_copy(
                update={"status": to, "finished_at": now, "updated_at": now}
            )
            self.due.pop(batch_id, None)
            self.jobs.outbox.put(batch_completed_event(ended))
            return ended

    def items(self, batch_id: str, *, limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
        with self._lock:
            items = self.item_jobs(batch_id)
            start = int(cursor or 0)
            more = start + limit < len(items)
            return items[start : start + limit], (str(start + limit) if more else None)

    def due_batch_ids(self, *, now: int, limit: int) -> list[str]:
        with self._lock:
            ready = sorted((at, batch_id) for batch_id, at in self.due.items() if at <= now)
            return [batch_id for _, batch_id in ready[:limit]]

    def reschedule_batch(self, batch: Batch, *, due_at: int) -> None:
        with self._lock:
            current = self.batches.get(batch.id)
            if current is not None and not current.status.ended:
                self.due[batch.id] = due_at


class FakeBatchFiles:
    """The items files by key: what was written (the iterable is consumed, as the real upload does),
    what was deleted."""

    def __init__(self) -> None:
        self.files: dict[str, list[str]] = {}
        self.deleted: list[str] = []

    def write_lines(self, key: str, lines: Iterable[str]) -> None:
        self.files[key] = list(lines)

    def read_lines(self, key: str) -> Iterator[str]:
        yield from self.files[key]

    def delete(self, key: str) -> None:
        self.deleted.append(key)
        self.files.pop(key, None)


class FakeBatchQueue:
    """Messages to the batch worker, recorded as (batch_id, action); `down` makes every send raise."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.down = False

    def send(self, batch_id: str, *, action: str = "fan_out") -> None:
        if self.down:
            raise ConnectionError("the batch queue is unreachable")
        self.sent.append((batch_id, action))


class FakeUploadStore:
    """Just enough of the UploadStore for Uploads.usable (the batch accept reads uploads only)."""

    def __init__(self) -> None:
        self.uploads: dict = {}

    def get_upload(self, upload_id: str):
        return self.uploads.get(upload_id)


class FakeManifestBucket:
    """The upload bucket as the batch accept reads it: an object's text lines, streamed."""

    def __init__(self) -> None:
        self.objects: dict[str, str] = {}
        self.read_with: list[int] = []  # the max_bytes of each read

    def lines(self, key: str, *, max_bytes: int) -> Iterator[str]:
        self.read_with.append(max_bytes)
        yield from self.objects[key].split("\n")
