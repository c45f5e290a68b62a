"""In-memory fakes of the domain's ports, for use-case tests without AWS or Leonardo.

They keep the rules the real adapters enforce where a use case relies on them (conditional status
moves, the waiting line taken once, the first account trip winning), and nothing else.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from gencore.domain.errors import TransitionConflict
from gencore.domain.models import TRANSITIONS, Job, JobStatus
from gencore.domain.policy import epoch
from gencore.domain.ports import (
    AccountBlock,
    AccountStatus,
    Orphan,
    RemoteGeneration,
    RemoteSummary,
)

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told to (thread-safe: workers may advance it)."""

    def __init__(self, start: datetime = T0) -> None:
        self._now, self._lock = start, threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


def make_job(status: JobStatus = JobStatus.SUBMITTED, *, created_at: datetime = T0, **fields) -> Job:
    job_id = fields.pop("id", str(uuid.uuid4()))
    base = {"id": job_id, "user_id": "alice", "status": status, "request": {"prompt": "a cat"},
            "created_at": created_at, "updated_at": created_at}  # fmt: skip
    if status == JobStatus.SUBMITTED:
        base |= {"generation_id": f"gen-{job_id}", "submitted_at": created_at, "slot_held": True}
    return Job.model_validate(base | fields)


class FakeJobStore:
    """The JobStore port in memory. `partition` mirrors the due index: P (poll), Q (re-send), L (line)."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.partition: dict[str, str | None] = {}
        self.slots = 0
        self.reads = 0
        self._lock = threading.RLock()

    # --- set-up helpers ----------------------------------------------------------------------
    def add(self, job: Job, *, partition: str | None = None) -> Job:
        with self._lock:
            if partition is None and not job.status.terminal and job.due_at is not None:
                partition = "Q" if job.status == JobStatus.QUEUED else "P"
            if partition == "L":
                job = job.model_copy(update={"due_at": epoch(job.created_at)})
            self.jobs[job.id] = job
            self.partition[job.id] = partition
            self.slots += int(job.slot_held)
        return job

    def line(self) -> list[str]:
        return self.waiting_job_ids(limit=10**6)

    # --- the port ----------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        with self._lock:
            self.reads += 1
            return self.jobs.get(job_id)

    def job_for_generation(self, generation_id: str) -> Job | None:
        with self._lock:
            return next((j for j in self.jobs.values() if j.generation_id == generation_id), None)

    def transition(self, job, to, *, now, release_slot=False, due_at=None, **fields):
        with self._lock:
            current = self.jobs.get(job.id)
            if current is None or current.status != job.status or to not in TRANSITIONS[job.status]:
                raise TransitionConflict(f"job {job.id} is no longer {job.status}")
            updates = {"status": to, "updated_at": now, "due_at": due_at, **fields}
            if release_slot and current.slot_held:
                updates |= {"slot_held": False, "slot_acquired_at": None}
                self.slots -= 1
            moved = current.model_copy(update=updates)
            self.jobs[job.id] = moved
            self.partition[job.id] = None if due_at is None else ("Q" if to == JobStatus.QUEUED else "P")
            return moved

    def release_slot(self, job, *, now):
        with self._lock:
            current = self.jobs[job.id]
            if current.slot_held:
                self.slots -= 1
                current = current.model_copy(update={"slot_held": False, "slot_acquired_at": None})
                self.jobs[job.id] = current
            return current

    def reschedule(self, job, *, due_at, checks=None, submit_token=None) -> None:
        with self._lock:
            current = self.jobs.get(job.id)
            if current is None or current.status != job.status:
                return
            updates: dict = {"due_at": due_at}
            if checks is not None:
                updates["checks"] = checks
            if submit_token is not None:
                updates["submit_token"] = submit_token
            self.jobs[job.id] = current.model_copy(update=updates)
            self.partition[job.id] = "Q" if current.status == JobStatus.QUEUED else "P"

    def due_job_ids(self, *, now: int, limit: int) -> list[str]:
        with self._lock:
            ids: list[str] = []
            for kind in ("P", "Q"):
                ready = sorted(
                    (j.due_at, j.id)
                    for j in self.jobs.values()
                    if self.partition.get(j.id) == kind and j.due_at is not None and j.due_at <= now
                )
                ids.extend(job_id for _, job_id in ready)
            return ids[:limit]

    def park(self, job: Job) -> bool:
        with self._lock:
            current = self.jobs.get(job.id)
            if (current is None or current.status != JobStatus.QUEUED or current.slot_held
                    or current.submit_token != job.submit_token):  # fmt: skip
                return False
            self.jobs[job.id] = current.model_copy(update={"due_at": epoch(current.created_at)})
            self.partition[job.id] = "L"
            return True

    def waiting_job_ids(self, *, limit: int) -> list[str]:
        with self._lock:
            waiting = sorted(
                (j.due_at or 0, j.id) for j in self.jobs.values() if self.partition.get(j.id) == "L"
            )
            return [job_id for _, job_id in waiting[:limit]]

    def leave_line(self, job_id: str, *, due_at: int) -> int | None:
        with self._lock:
            current = self.jobs.get(job_id)
            if (current is None or self.partition.get(job_id) != "L" or current.status != JobStatus.QUEUED
                    or current.slot_held):  # fmt: skip
                return None
            token = current.submit_token + 1
            self.jobs[job_id] = current.model_copy(update={"due_at": due_at, "submit_token": token})
            self.partition[job_id] = "Q"
            return token

    def in_flight(self) -> int:
        with self._lock:
            return self.slots


class FakeSubmitQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def send(self, job_id: str, *, delay_seconds: int = 0, attempt: int = 0, token: int = 0) -> None:
        with self._lock:
            self.sent.append((job_id, token))


class FakeEventQueue:
    def __init__(self) -> None:
        self.sent: list = []

    def send(self, event) -> None:
        self.sent.append(event)


@dataclass
class FakeLeonardo:
    """The Leonardo port: every GET answers PENDING after `on_get(generation_id)` (a sleep, a clock
    step); `account()` answers from `statuses` (or raises what is queued there); the list from
    `listing`. Calls are recorded."""

    on_get: Callable[[str], None] = lambda generation_id: None
    statuses: list = field(default_factory=list)
    listing: list[RemoteSummary] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)
    account_calls: int = 0
    list_calls: list[dict] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def generation(self, generation_id: str) -> RemoteGeneration:
        with self._lock:
            self.gets.append(generation_id)
        self.on_get(generation_id)
        return RemoteGeneration(status="PENDING", images=[])

    def account(self) -> AccountStatus:
        self.account_calls += 1
        answer = self.statuses.pop(0) if self.statuses else AccountStatus(ok=True)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def recent_generations(self, *, since: datetime, limit_pages: int) -> list[RemoteSummary]:
        self.list_calls.append({"since": since, "limit_pages": limit_pages})
        if isinstance(self.listing, BaseException):
            raise self.listing
        return sorted(self.listing, key=lambda s: s.created_at, reverse=True)

    def start_generation(self, request, *, init_image_id=None):  # pragma: no cover - not used here
        raise AssertionError("no paid call in these tests")


class FakeAccountStateStore:
    """The AccountStateStore in memory, with the adapter's conditions (first trip wins; since-guarded)."""

    def __init__(self) -> None:
        self.block: AccountBlock | None = None
        self.loads = 0

    def load(self) -> AccountBlock | None:
        self.loads += 1
        return self.block

    def trip(self, block: AccountBlock) -> AccountBlock:
        if self.block is None:
            self.block = block
        return self.block

    def update(self, block: AccountBlock) -> bool:
        if self.block is None or self.block.since != block.since:
            return False
        self.block = block
        return True

    def clear(self, since: datetime) -> bool:
        if self.block is None or self.block.since != since:
            return False
        self.block = None
        return True

    def backdate(self, seconds: float) -> None:
        """Make the stored block older (its since and next probe earlier)."""
        assert self.block is not None
        delta = timedelta(seconds=seconds)
        self.block = replace(self.block, since=self.block.since - delta,
                             next_probe_at=self.block.next_probe_at - delta)  # fmt: skip


class FakeOrphanStore:
    def __init__(self) -> None:
        self.started_at: int | None = None
        self.reached: datetime | None = None
        self.recorded: dict[str, Orphan] = {}

    def claim_sweep(self, *, now: datetime, every_seconds: int) -> tuple[bool, datetime | None]:
        if self.started_at is not None and self.started_at > epoch(now) - every_seconds:
            return False, None
        self.started_at = epoch(now)
        return True, self.reached

    def finish_sweep(self, *, reached: datetime) -> None:
        if self.reached is None or self.reached < reached:
            self.reached = reached

    def record_orphan(self, orphan: Orphan, *, expires_at: int) -> bool:
        if orphan.generation_id in self.recorded:
            return False
        self.recorded[orphan.generation_id] = orphan
        return True

    def orphans(self, *, limit: int) -> list[Orphan]:
        return sorted(self.recorded.values(), key=lambda o: o.created_at, reverse=True)[:limit]
