"""The account's create pause, read as a specification (domain/account.py, domain/waiting.py): Leonardo
refusing a create for its rate (429) refuses every create until its window opens, so the first 429
pauses them all for its Retry-After. Until the pause ends nothing is sent and nobody is woken into
the same 429: a freed slot still wakes its job, with the message held back until the end, and the
reconciler leaves the line alone. The pause is one item every container reads."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gencore.domain.account import AccountGuard, AccountPolicy
from gencore.domain.errors import LeonardoBusy
from gencore.domain.models import JobStatus
from gencore.domain.reconcile import Reconciler
from gencore.domain.waiting import Waker
from tests.support.fakes import (
    SUBMIT_POLICY,
    T0,
    FakeAccountStateStore,
    FakeEventQueue,
    FakeLeonardo,
    make_job,
)

pytestmark = pytest.mark.unit


def new_job(store, user: str = "alice", n: int = 0):
    request = {"prompt": f"{user} {n}", "width": 512, "height": 512}
    return store.add(make_job(JobStatus.QUEUED, user_id=user, request=request, leonardo_seed=n, due_at=0))


def throttle(submitter, store, leonardo, *, retry_after: float | None = 30):
    """A job's create refused for Leonardo's rate: the pause starts."""
    leonardo.script = [LeonardoBusy("429", retry_after=retry_after)]
    job = new_job(store, "dave")
    assert submitter.submit(job.id).outcome == "throttled"
    return job


def test_a_429_pauses_every_create_for_its_retry_after(submitter, store, leonardo, queue, guard, clock):
    dave = throttle(submitter, store, leonardo, retry_after=30)
    assert queue.delays[dave.id] >= 30 and guard.paused_for() == 30

    erin = new_job(store, "erin")
    assert submitter.submit(erin.id).outcome == "paused"
    # Nothing sent for her; her slot given back, her message back when the window opens.
    assert leonardo.posts == 1 and store.get(erin.id).slot_held is False and store.in_flight() == 0
    assert queue.delays[erin.id] == 30

    clock.advance(30)
    assert submitter.submit(erin.id, token=store.get(erin.id).submit_token).outcome == "submitted"
    assert submitter.submit(dave.id, token=store.get(dave.id).submit_token).outcome == "submitted"
    assert leonardo.posts == 3 and len(leonardo.created) == 2


def test_a_429_without_retry_after_pauses_for_the_policys_pause(submitter, store, leonardo, guard):
    throttle(submitter, store, leonardo, retry_after=None)
    assert guard.paused_for() == SUBMIT_POLICY.rate_pause_seconds


def test_a_shorter_pause_never_cuts_a_longer_one_short(guard, clock):
    guard.pause(60)
    clock.advance(10)
    guard.pause(5)
    assert guard.paused_for() == 50


def test_every_container_reads_the_pause_once_its_cache_runs_out(clock):
    state = FakeAccountStateStore()
    here, there = (AccountGuard(state, clock, AccountPolicy(cache_seconds=5)) for _ in range(2))
    assert there.paused_for() == 0  # read before the 429: remembered for 5 s
    here.pause(30)
    assert there.paused_for() == 0
    clock.advance(5)
    assert there.paused_for() == 25


def test_a_slot_freed_during_the_pause_wakes_its_job_held_back_until_the_pause_ends(
    submitter, store, leonardo, queue, guard, clock
):
    running = [new_job(store, "alice", n) for n in range(SUBMIT_POLICY.max_in_flight)]
    for job in running:
        assert submitter.submit(job.id).outcome == "submitted"
    carol = new_job(store, "carol")
    assert submitter.submit(carol.id).outcome == "waiting"
    guard.pause(20)

    first = store.get(running[0].id)
    store.transition(first, JobStatus.FINALIZING, now=clock(), release_slot=True)
    Waker(store, queue, clock, SUBMIT_POLICY, guard).after_release(first.slot_pool)

    assert queue.sent[-1][0] == carol.id and queue.delays[carol.id] == 20
    assert store.get(carol.id).due_at >= int(clock().timestamp()) + 20  # the re-send net waits too


def test_the_reconciler_wakes_nobody_while_creates_are_paused_and_the_line_after(store, queue, guard, clock):
    line = [
        store.add(make_job(JobStatus.QUEUED, created_at=T0 - timedelta(minutes=10 - i)), partition="L").id
        for i in range(3)
    ]
    reconciler = Reconciler(store, FakeLeonardo(), FakeEventQueue(), queue, clock, SUBMIT_POLICY, guard=guard)
    guard.pause(45)

    assert reconciler.run() == {} and queue.sent == []

    clock.advance(45)
    assert reconciler.run() == {"woken": SUBMIT_POLICY.max_in_flight}
    assert [job_id for job_id, _ in queue.sent] == line[: SUBMIT_POLICY.max_in_flight]
    assert all(queue.delays[job_id] == 0 for job_id in line[: SUBMIT_POLICY.max_in_flight])
