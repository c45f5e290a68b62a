"""The reconciler's time: no check starts once the budget is spent, and the line is always woken.

Issue 9, item 8: the budget used to be checked only after a whole batch (up to 100 checks on four
workers), so slow Leonardo GETs ran the invocation past its Timeout before it woke anyone.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from gencore.domain.models import JobStatus
from gencore.domain.policy import Policy, epoch
from gencore.domain.reconcile import Reconciler
from tests.support.fakes import (
    T0,
    FakeClock,
    FakeEventQueue,
    FakeJobStore,
    FakeLeonardo,
    FakeSubmitQueue,
    make_job,
)

pytestmark = pytest.mark.unit

POLICY = Policy(max_in_flight=200, reconcile_budget_seconds=30, reconcile_workers=4, reconcile_batch=100)


def _world(clock, leonardo, *, polls: int, waiting: int, start=T0):
    store = FakeJobStore()
    for i in range(polls):  # accepted by Leonardo, due for a poll
        store.add(
            make_job(
                JobStatus.SUBMITTED, created_at=start - timedelta(minutes=5), due_at=epoch(start) - 1 - i
            )
        )
    line = [
        store.add(
            make_job(JobStatus.QUEUED, created_at=start - timedelta(minutes=1, seconds=i)), partition="L"
        ).id
        for i in range(waiting)
    ]
    queue = FakeSubmitQueue()
    reconciler = Reconciler(store, leonardo, FakeEventQueue(), queue, clock, POLICY)
    return store, queue, reconciler, line


def test_a_run_stops_starting_checks_once_the_budget_is_spent_and_still_wakes_the_line():
    # Given 100 due jobs and a Leonardo whose every GET takes 2 s (of the fake clock)
    clock = FakeClock()
    leonardo = FakeLeonardo(on_get=lambda generation_id: clock.advance(2))
    store, queue, reconciler, line = _world(clock, leonardo, polls=100, waiting=3)

    outcomes = reconciler.run()

    # Then checks stop starting at the 30 s budget: at most what four workers had begun by then
    started = len(leonardo.gets)
    assert 15 <= started <= 30 / 2 + POLICY.reconcile_workers, outcomes
    assert outcomes["pending"] == started
    # and the jobs never started are left due, untouched, for the next run
    assert outcomes["deferred"] == 100 - started
    untouched = [j for j in store.jobs.values() if j.status == JobStatus.SUBMITTED and j.checks == 0]
    assert len(untouched) == 100 - started
    assert set(store.due_job_ids(now=epoch(clock()), limit=1000)) >= {j.id for j in untouched}
    # and the waiting line is still woken, oldest first
    assert outcomes["woken"] == 3
    assert [job_id for job_id, _ in queue.sent] == sorted(line, key=lambda i: store.jobs[i].created_at)


def test_checks_still_running_at_the_deadline_are_left_behind_and_the_line_is_woken():
    # Given a Leonardo GET that hangs (a slow answer with retries), on the real clock
    release = threading.Event()
    hung: list[str] = []

    def slow(generation_id: str) -> None:
        if not hung:
            hung.append(generation_id)
            release.wait(10)

    def clock() -> datetime:
        return datetime.now(UTC)

    leonardo = FakeLeonardo(on_get=slow)
    store, queue, _, _ = _world(clock, leonardo, polls=5, waiting=2, start=clock())
    reconciler = Reconciler(store, leonardo, FakeEventQueue(), queue, clock, POLICY, reserve_seconds=0.5)
    try:
        # When the invocation is cut off 1.5 s from now
        started = time.monotonic()
        outcomes = reconciler.run(ends_at=clock() + timedelta(seconds=1.5))
        elapsed = time.monotonic() - started
    finally:
        release.set()

    # Then the run returned before the invocation's end, without waiting for the hung check
    assert elapsed < 1.5, elapsed
    assert outcomes.get("unfinished") == 1
    assert outcomes.get("pending") == 4
    # and still woke the line
    assert outcomes["woken"] == 2 and len(queue.sent) == 2


def test_the_lambda_deadline_bounds_the_budget():
    # Given a budget of 30 s but only 12 s left in the invocation (10 s of it reserved)
    clock = FakeClock()
    leonardo = FakeLeonardo(on_get=lambda generation_id: clock.advance(1))
    store, queue, _, _ = _world(clock, leonardo, polls=50, waiting=1)
    reconciler = Reconciler(store, leonardo, FakeEventQueue(), queue, clock, POLICY, reserve_seconds=10)

    outcomes = reconciler.run(ends_at=clock() + timedelta(seconds=12))

    # Then checks start only in the first 2 s
    assert len(leonardo.gets) <= 2 + POLICY.reconcile_workers
    assert outcomes["deferred"] == 50 - len(leonardo.gets)
    assert outcomes["woken"] == 1


def test_a_quick_run_checks_every_due_job_across_batches():
    clock = FakeClock()
    leonardo = FakeLeonardo()
    _, _, reconciler, _ = _world(clock, leonardo, polls=250, waiting=0)

    outcomes = reconciler.run(ends_at=clock() + timedelta(seconds=55))

    assert outcomes == {"pending": 250}
