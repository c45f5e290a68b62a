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
from decimal import Decimal
from typing import Any

from gencore.domain.errors import (
    GenerationTaken,
    IdenticalRequestInFlight,
    LeonardoBusy,
    TooManyWaiting,
    TransitionConflict,
)
from gencore.domain.events import SAFETY_NET_DELAY_SECONDS, CompletionEvent, completion_event, is_completion
from gencore.domain.kinds import LeonardoCall, Refs
from gencore.domain.kinds.image import generation_call
from gencore.domain.ledger import BudgetExceeded, Delta, Pricing, charge_after, delta, resets_at
from gencore.domain.models import TRANSITIONS, Cost, Job, JobStatus, OutputImage
from gencore.domain.plans import Budget
from gencore.domain.policy import IMAGE, Policy, epoch
from gencore.domain.ports import (
    AccountBlock,
    AccountStatus,
    Orphan,
    PoolOf,
    RemoteGeneration,
    RemoteSummary,
    SlotClaim,
)
from gencore.domain.waiting import turn_of

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
# The submitter's tuning in its specs: a cap of 2, a 120 s lease, 60 s to settle, 28 s per POST.
SUBMIT_POLICY = Policy(
    max_in_flight=2, submit_lease_seconds=120, submit_settle_seconds=60, post_budget_seconds=28
)


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


def image_pool(cap: int) -> PoolOf:
    """A slot claim's pools where every job takes its slot from the image pool, capped at `cap`."""
    return lambda job: (IMAGE, cap)


class FakeJobStore:
    """The JobStore port in memory. `partition` mirrors the due index: P (poll), Q (re-send), L (the
    image pool's line; L:<pool> another pool's). `slots` counts the image pool's, `pool_slots` others'."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.partition: dict[str, str | None] = {}
        self.slots = 0
        self.pool_slots: dict[str, int] = {}  # slots held in pools other than the image pool
        self.reads = 0
        self.owners: dict[str, str] = {}  # generation id -> job id (the GEN# items)
        self.locks: dict[str, str] = {}  # request fingerprint -> job id (the REQLOCK# items)
        self.dedupe: dict[str, str] = {}  # dedupe key -> job id (the DEDUPE# items, without expiry)
        # (user, "day" | "month", key) -> what is reserved and spent there (the LEDGER# items)
        self.ledger: dict[tuple[str, str, str], Delta] = {}
        self.waiting: dict[str, int] = {}  # user -> QUEUED jobs counted against their cap (WAITING#)
        self.line_head: int | None = None  # the LINE# items: the last woken turn, each user's last turn
        self.last_turns: dict[str, int] = {}
        self.other_lines: dict[str, tuple[int | None, dict[str, int]]] = {}  # the same, other pools
        self.pricing = Pricing()
        # The OUTBOX# items: a job's completion event, put with the write that ends it; `on_event`
        # hears of it once that write is done (the adapter's fast path).
        self.outbox = FakeOutbox()
        self.on_event: Callable[[CompletionEvent], None] | None = None
        self._lock = threading.RLock()

    # --- set-up helpers ----------------------------------------------------------------------
    def add(self, job: Job, *, partition: str | None = None) -> Job:
        with self._lock:
            if partition is None and not job.status.terminal and job.due_at is not None:
                partition = "Q" if job.status == JobStatus.QUEUED else "P"
            if partition is not None and partition.startswith("L"):  # a line: due at its arrival
                job = job.model_copy(update={"due_at": epoch(job.created_at)})
            self.jobs[job.id] = job
            self.partition[job.id] = partition
            if job.slot_held:
                self._take(job.slot_pool, 1)
        return job

    def _held(self, pool: str | None) -> int:
        return self.slots if pool in (None, IMAGE) else self.pool_slots.get(pool, 0)

    def _take(self, pool: str | None, count: int) -> None:
        if pool in (None, IMAGE):
            self.slots += count
        else:
            self.pool_slots[pool] = self.pool_slots.get(pool, 0) + count

    @staticmethod
    def _line(pool: str) -> str:
        return "L" if pool == IMAGE else f"L:{pool}"

    def line(self) -> list[str]:
        return self.waiting_job_ids(limit=10**6)

    # --- the port ----------------------------------------------------------------------------
    def create(self, job: Job, *, dedupe_key: str, dedupe_expires_at: int, replace_job_id: str | None = None,
               budget: Budget | None = None, max_waiting: int | None = None):  # fmt: skip
        with self._lock:
            holder = self.dedupe.get(dedupe_key)
            if holder is not None and holder != replace_job_id:
                return self.jobs[holder]
            waiting = self.waiting.get(job.user_id, 0)
            if job.waiting_counted and max_waiting is not None and waiting >= max_waiting:
                raise TooManyWaiting("too many waiting")
            if job.charge is not None:
                self._reserve(job, budget)
            if job.waiting_counted:
                self.waiting[job.user_id] = self.waiting.get(job.user_id, 0) + 1
            self.dedupe[dedupe_key] = job.id
            self.add(job)
            return None

    # --- the ledger (domain/ledger.py), moved with the job as the real store moves it ----------
    def spent(self, user_id: str, period: str, key: str) -> Delta:
        return self.ledger.get((user_id, period, key), Delta())

    def _reserve(self, job: Job, budget: Budget | None) -> None:
        charge = job.charge
        assert charge is not None
        amount = Delta(reserved=Decimal(charge.estimate))
        for period, key in (("day", charge.day), ("month", charge.month)):
            limit = None if budget is None else (budget.per_day if period == "day" else budget.per_month)
            used = self.spent(job.user_id, period, key).committed
            if limit is not None and used + amount.committed > limit:
                raise BudgetExceeded("over budget", period=period, remaining=max(limit - used, Decimal(0)),
                                     unit=charge.unit, resets_at=resets_at(period, key))  # fmt: skip
        self._move(job.user_id, charge.day, charge.month, amount)

    def _move(self, user_id: str, day: str, month: str, change: Delta) -> None:
        for period, key in (("day", day), ("month", month)):
            before = self.spent(user_id, period, key)
            self.ledger[(user_id, period, key)] = Delta(
                reserved=before.reserved + change.reserved, spent=before.spent + change.spent
            )

    def _charged(self, current: Job, updates: dict) -> dict:
        if current.waiting_counted and updates.get("status", current.status) != JobStatus.QUEUED:
            updates = updates | {"waiting_counted": False}
            self.waiting[current.user_id] -= 1
        after = charge_after(current, updates, self.pricing)
        if after != current.charge and after is not None:
            self._move(current.user_id, after.day, after.month, delta(current.charge, after))
            return updates | {"charge": after}
        return updates

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
                updates |= {"slot_held": False, "slot_acquired_at": None, "slot_pool": None}
                self._take(current.slot_pool, -1)
            updates = self._charged(current, updates)
            moved = current.model_copy(update=updates)
            self.jobs[job.id] = moved
            self.partition[job.id] = None if due_at is None else ("Q" if to == JobStatus.QUEUED else "P")
            if to.terminal:
                self.release_request_lock(current)
            if is_completion(current.status, to):
                event = completion_event(moved)
                self.outbox.put(event)
                if self.on_event is not None:
                    self.on_event(event)
            return moved

    def update(self, job, *, now, **fields):
        with self._lock:
            current = self.jobs.get(job.id)
            if current is None or current.status != job.status:
                raise TransitionConflict(f"job {job.id} is no longer {job.status}")
            moved = current.model_copy(update=self._charged(current, {"updated_at": now, **fields}))
            self.jobs[job.id] = moved
            return moved

    def cancel(self, job, *, now, failure=None):
        with self._lock:
            current = self.jobs.get(job.id)
            if (current is None or current.status != JobStatus.QUEUED or current.slot_held
                    or current.submit_uncertain_since):  # fmt: skip
                raise TransitionConflict(f"job {job.id} is held by a submitter or no longer QUEUED")
            if failure is not None:
                return self.transition(
                    current, JobStatus.FAILED, now=now, error_code=failure[0], error_message=failure[1]
                )
            return self.transition(current, JobStatus.CANCELLED, now=now)

    def release_slot(self, job, *, now):
        with self._lock:
            current = self.jobs[job.id]
            if current.slot_held:
                self._take(current.slot_pool, -1)
                current = current.model_copy(
                    update={"slot_held": False, "slot_acquired_at": None, "slot_pool": None}
                )
                self.jobs[job.id] = current
            return current

    def reschedule(self, job, *, due_at, checks=None, submit_token=None, recovered_at=None) -> None:
        with self._lock:
            current = self.jobs.get(job.id)
            if current is None or current.status != job.status:
                return
            updates: dict = {"due_at": due_at}
            if checks is not None:
                updates["checks"] = checks
            if submit_token is not None:
                updates["submit_token"] = submit_token
            if recovered_at is not None:
                updates["recovered_at"] = recovered_at
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

    def park(self, job: Job, pool: str = IMAGE) -> bool:
        with self._lock:
            current = self.jobs.get(job.id)
            if (current is None or current.status != JobStatus.QUEUED or current.slot_held
                    or current.submit_token != job.submit_token):  # fmt: skip
                return False
            turn = current.line_turn
            if turn is None:  # the adapter's turns (domain/waiting.py), one line per pool
                head, last_turns = self._turns(pool)
                turn = turn_of(head if head is not None else epoch(current.created_at),
                               last_turns.get(current.user_id))  # fmt: skip
                last_turns[current.user_id] = turn
            self.jobs[job.id] = current.model_copy(update={"due_at": turn, "line_turn": turn})
            self.partition[job.id] = self._line(pool)
            return True

    def _turns(self, pool: str) -> tuple[int | None, dict[str, int]]:
        if pool == IMAGE:
            return self.line_head, self.last_turns
        return self.other_lines.setdefault(pool, (None, {}))

    def waiting_job_ids(self, *, limit: int, pool: str = IMAGE) -> list[str]:
        with self._lock:
            line = self._line(pool)
            waiting = sorted(
                (j.due_at or 0, j.id) for j in self.jobs.values() if self.partition.get(j.id) == line
            )
            return [job_id for _, job_id in waiting[:limit]]

    def leave_line(self, job_id: str, *, due_at: int, pool: str = IMAGE) -> Job | None:
        with self._lock:
            current = self.jobs.get(job_id)
            if (current is None or self.partition.get(job_id) != self._line(pool)
                    or current.status != JobStatus.QUEUED or current.slot_held):  # fmt: skip
                return None
            token = current.submit_token + 1
            woken = current.model_copy(update={"due_at": due_at, "submit_token": token})
            self.jobs[job_id] = woken
            self.partition[job_id] = "Q"
            if current.line_turn is not None:
                head, last_turns = self._turns(pool)
                head = max(head or 0, current.line_turn)
                if pool == IMAGE:
                    self.line_head = head
                else:
                    self.other_lines[pool] = (head, last_turns)
            return woken

    def in_flight(self, pool: str = IMAGE) -> int:
        with self._lock:
            return self._held(pool)

    # --- the paid POST's writes, with the adapter's conditions (claim fence, GEN# once, lock) --------
    def claim_slot(self, job_id: str, *, pools: PoolOf, now: datetime, lease_seconds: int) -> SlotClaim:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job.status != JobStatus.QUEUED:
                return SlotClaim(granted=False, job=job)
            pool, cap = pools(job)
            held = {"slot_acquired_at": now, "submit_attempts": job.submit_attempts + 1,
                    "due_at": epoch(now) + lease_seconds}  # fmt: skip
            if job.slot_held:
                since = job.slot_acquired_at
                if since and (now - since).total_seconds() <= lease_seconds:
                    return SlotClaim(granted=False, job=job)
            elif self._held(pool) >= cap:
                return SlotClaim(granted=False, job=job)
            else:
                self._take(pool, 1)
                held["slot_pool"] = pool
            job = job.model_copy(update=held | {"slot_held": True})
            self.jobs[job_id], self.partition[job_id] = job, "Q"
            return SlotClaim(granted=True, job=job)

    def _fenced(self, job: Job) -> Job:
        """The adapter's fence: the slot claim we hold, or (without a slot) the POST we read."""
        current = self.jobs.get(job.id)
        if job.slot_held:
            same = (
                current is not None and current.slot_held and current.slot_acquired_at == job.slot_acquired_at
            )
        else:
            same = (current is not None and not current.slot_held and job.submit_uncertain_since is not None
                    and current.submit_uncertain_since == job.submit_uncertain_since)  # fmt: skip
        if not same or current is None or current.status != job.status:
            raise TransitionConflict(f"job {job.id} is no longer as read")
        return current

    def begin_post(
        self, job: Job, *, now: datetime, fingerprint: str, lock_expires_at: int, due_at: int | None = None
    ) -> Job:
        with self._lock:
            current = self._fenced(job)
            holder = self.jobs.get(self.locks.get(fingerprint, ""))
            live = holder is not None and holder.status == JobStatus.QUEUED and holder.submit_uncertain_since
            if live and holder.id != job.id and holder.post_fingerprint == fingerprint:
                raise IdenticalRequestInFlight(f"job {holder.id} has an identical request unanswered")
            self.locks[fingerprint] = job.id
            updates: dict[str, Any] = {"submit_uncertain_since": now, "post_fingerprint": fingerprint}
            if due_at is not None:
                updates["due_at"] = due_at
            moved = current.model_copy(update=updates)
            self.jobs[job.id] = moved
            return moved

    def end_uncertainty(self, job: Job) -> Job:
        with self._lock:
            current = self._fenced(job)
            self.release_request_lock(current)
            moved = current.model_copy(update={"submit_uncertain_since": None, "post_fingerprint": None})
            self.jobs[job.id] = moved
            return moved

    def release_request_lock(self, job: Job) -> None:
        with self._lock:
            if job.post_fingerprint and self.locks.get(job.post_fingerprint) == job.id:
                del self.locks[job.post_fingerprint]

    def generation_owner(self, generation_id: str) -> str | None:
        with self._lock:
            return self.owners.get(generation_id)

    def mark_submitted(self, job, *, generation_id, cost, now, due_at, pool=IMAGE):
        with self._lock:
            current = self._fenced(job)
            if self.owners.get(generation_id, job.id) != job.id:
                raise GenerationTaken(f"generation {generation_id} belongs to another job")
            self.owners[generation_id] = job.id
            self.release_request_lock(current)
            if not current.slot_held:  # found while waiting: it runs at Leonardo, so it counts
                self._take(pool, 1)
            moved = current.model_copy(update=self._charged(current, {
                "slot_held": True, "slot_acquired_at": current.slot_acquired_at or now,
                "slot_pool": current.slot_pool if current.slot_held else pool,
                "status": JobStatus.SUBMITTED, "generation_id": generation_id, "submitted_at": now,
                "cost": cost, "updated_at": now, "due_at": due_at, "checks": 0,
                "submit_uncertain_since": None, "post_fingerprint": None,
            }))  # fmt: skip
            self.jobs[job.id], self.partition[job.id] = moved, "P"
            return moved


class FakeSubmitQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []
        self.delays: dict[str, int] = {}  # each job's last message's delay
        self._lock = threading.Lock()

    def send(self, job_id: str, *, delay_seconds: int = 0, attempt: int = 0, token: int = 0) -> None:
        with self._lock:
            self.sent.append((job_id, token))
            self.delays[job_id] = delay_seconds


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

    def start(self, call):  # pragma: no cover - not used here
        raise AssertionError("no paid call in these tests")


@dataclass
class CreatedGeneration:
    id: str
    call: LeonardoCall
    created_at: datetime


@dataclass
class PaidLeonardo:
    """Leonardo at the paid POST. Each call of start takes the next entry of `script`:
    "ok"; "unknown" (created, answer lost); "lost" (not created, answer lost); an exception to raise
    (created nothing). `on_post` runs after Leonardo acted and before the answer arrives.
    Created generations are listed to find_generations, which matches the prompt, the size and the
    seed like the real adapter, or raises `list_error` if set."""

    clock: Callable[[], datetime]
    script: list = field(default_factory=list)
    created: list[CreatedGeneration] = field(default_factory=list)
    posts: int = 0
    calls: list[LeonardoCall] = field(default_factory=list)
    list_error: BaseException | None = None
    on_post: Callable[[], None] = lambda: None
    lookups: int = 0  # calls of find_generations

    def start(self, call: LeonardoCall):
        from gencore.domain.errors import SubmitOutcomeUnknown

        self.posts += 1
        self.calls.append(call)
        step = self.script.pop(0) if self.script else "ok"
        if isinstance(step, BaseException):
            raise step
        generation = None
        if step in ("ok", "unknown"):
            generation = CreatedGeneration(str(uuid.uuid4()), call, self.clock())
            self.created.append(generation)
        self.on_post()  # after Leonardo acted, before its answer arrives
        if generation is not None and step == "ok":
            return generation.id, Cost(amount="1.5", unit="CREDITS")
        raise SubmitOutcomeUnknown("read timeout after sending")

    def listed(self, request: dict, *, seed: int) -> CreatedGeneration:
        """A generation in the account's list that no POST of this test made (another job's)."""
        generation = CreatedGeneration(
            str(uuid.uuid4()), generation_call(request, Refs(), seed), self.clock()
        )
        self.created.append(generation)
        return generation

    def request_fingerprint(self, call: LeonardoCall) -> str:
        body = call.body
        return f"{body['prompt']}|{body.get('width')}x{body.get('height')}|{body['seed']}"

    def find_generations(self, call: LeonardoCall, *, since: datetime) -> list[str]:
        self.lookups += 1
        if self.list_error is not None:
            raise self.list_error
        wanted = self.request_fingerprint(call)
        return [
            g.id
            for g in sorted(self.created, key=lambda g: g.created_at)
            if self.request_fingerprint(g.call) == wanted and g.created_at >= since - timedelta(seconds=30)
        ]

    def generation(self, generation_id: str) -> RemoteGeneration:  # pragma: no cover - not used
        raise LeonardoBusy("not in these tests")


class FakeAccountStateStore:
    """The AccountStateStore in memory, with the adapter's conditions (first trip wins; since-guarded)."""

    def __init__(self) -> None:
        self.block: AccountBlock | None = None
        self.paused: datetime | None = None  # the create pause (Leonardo's Retry-After)
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

    def pause(self, until: datetime) -> datetime:
        if self.paused is None or self.paused < until:
            self.paused = until
        return self.paused

    def paused_until(self) -> datetime | None:
        self.loads += 1
        return self.paused

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


@dataclass
class FakeOutputStore:
    """Our copies of outputs, by key; the URLs fetched and the deletes are recorded."""

    keys: set[str] = field(default_factory=set)
    deleted: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)

    def existing(self, key_prefix: str, *, index: int, source_id: str) -> OutputImage | None:
        key = f"{key_prefix}/{index}.png"
        return self._image(key, index, source_id) if key in self.keys else None

    def copy(self, url: str, key_prefix: str, *, index: int, source_id: str) -> OutputImage:
        self.fetched.append(url)
        key = f"{key_prefix}/{index}.png"
        self.keys.add(key)
        return self._image(key, index, source_id)

    @staticmethod
    def _image(key: str, index: int, source_id: str) -> OutputImage:
        return OutputImage(
            index=index, key=key, content_type="image/png", size=10, leonardo_image_id=source_id
        )

    def delete(self, key: str) -> None:
        self.deleted.append(key)
        self.keys.discard(key)

    def presign(self, key: str) -> str:
        return f"https://bucket.example/{key}"


@dataclass
class RemovingLeonardo:
    """Leonardo's delete route: raises each queued exception first, then deletes."""

    failures: list[BaseException] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def delete_generation(self, generation_id: str) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.deleted.append(generation_id)


def completed_job(
    *,
    user_id: str = "alice",
    kind: str = "text_to_image",
    images: int = 2,
    status=JobStatus.COMPLETE,
    **fields,
) -> Job:
    """A job that ended COMPLETE (or `status`, later) with `images` outputs copied to our bucket."""
    job_id = fields.pop("id", str(uuid.uuid4()))
    outputs = [
        OutputImage(index=i, key=f"outputs/{user_id}/{job_id}/{i}.png", content_type="image/png", size=10,
                    leonardo_image_id=f"leo-img-{job_id}-{i}")
        for i in range(images)
    ]  # fmt: skip
    fields = {"generation_id": f"gen-{job_id}"} | fields
    return make_job(status, id=job_id, user_id=user_id, kind=kind, slot_held=False, images=outputs, **fields)


@dataclass
class FakeOutbox:
    """The outbox's items (adapters/outbox.py): every event put, and when each was published."""

    events: dict[str, CompletionEvent] = field(default_factory=dict)
    published: dict[str, datetime] = field(default_factory=dict)
    delay_seconds: int = SAFETY_NET_DELAY_SECONDS  # the writer's head start

    def put(self, event: CompletionEvent) -> None:
        self.events[event.event_id] = event

    def pending(self, *, now: datetime, limit: int) -> list[CompletionEvent]:
        waiting = [e for e in self.events.values() if e.event_id not in self.published]
        due = sorted((e.publishable_at(self.delay_seconds), e.event_id, e) for e in waiting)
        return [e for at, _, e in due if at <= now][:limit]

    def mark_published(self, event: CompletionEvent, *, now: datetime) -> None:
        if event.event_id in self.events:
            self.published[event.event_id] = now


@dataclass
class FakeEventBus:
    """The bus: every event it accepted, in order (repeats included); `down` refuses every call."""

    accepted: list[CompletionEvent] = field(default_factory=list)
    down: bool = False
    refuse: set[str] = field(default_factory=set)  # event ids it answers with an entry error

    def publish(self, events) -> set[str]:
        if self.down:
            raise ConnectionError("the bus is unreachable")
        taken = [e for e in events if e.event_id not in self.refuse]
        self.accepted.extend(taken)
        return {e.event_id for e in taken}


class FakeBucketStore:
    """The BucketStore port (domain/rate_limits.py) in memory: each bucket's TAT, moved as DynamoDB's
    conditional writes move it."""

    def __init__(self) -> None:
        self.items: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def advance(self, key: str, *, now: datetime, interval: float, tolerance: float) -> datetime | None:
        with self._lock:
            tat = max(self.items.get(key, now), now)
            if (tat - now).total_seconds() > tolerance:
                return self.items[key]
            self.items[key] = tat + timedelta(seconds=interval)
            return None
