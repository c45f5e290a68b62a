"""The reconciler trusts a job's own record over the due index that listed it.

The due index (a GSI) is read eventually consistent, so it can list a job whose last write already
moved its next check on: typically a QUEUED job's recheck, listed just as the submitter wrote
SUBMITTED with the first poll 30 s away. Polled then, its generation answers PENDING and the read
is wasted (two of the 10,000-item run's extra GETs). The scheduled run skips such a job as
`not_due`; the ops CLI's `check`, which names the job itself, still looks at it.
"""

from __future__ import annotations

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


class StaleIndex(FakeJobStore):
    """A due index still listing what it listed before the jobs' last writes."""

    def __init__(self) -> None:
        super().__init__()
        self.listed: list[str] = []

    def due_job_ids(self, *, now: int, limit: int) -> list[str]:
        return self.listed[:limit]


def _world():
    clock, store, leonardo = FakeClock(), StaleIndex(), FakeLeonardo()
    now = epoch(T0)
    moved_on = store.add(make_job(JobStatus.SUBMITTED, due_at=now + 30), partition="P")  # just submitted
    due = store.add(make_job(JobStatus.SUBMITTED, due_at=now - 5), partition="P")
    store.listed = [moved_on.id, due.id]
    queue = FakeSubmitQueue()
    reconciler = Reconciler(store, leonardo, FakeEventQueue(), queue, clock, Policy(max_in_flight=4))
    return store, leonardo, reconciler, moved_on, due


def test_a_listed_job_whose_record_is_due_later_is_not_polled():
    store, leonardo, reconciler, moved_on, due = _world()

    outcomes = reconciler.run()

    assert leonardo.gets == [due.generation_id]  # the due job only
    assert (outcomes["not_due"], outcomes["pending"]) == (1, 1)
    assert store.jobs[moved_on.id] == moved_on  # untouched: its own first poll comes in 30 s


def test_a_job_named_by_the_operator_is_looked_at_whatever_its_due_time():
    _, leonardo, reconciler, moved_on, _ = _world()

    assert reconciler.check(moved_on.id) == "pending"
    assert leonardo.gets == [moved_on.generation_id]
