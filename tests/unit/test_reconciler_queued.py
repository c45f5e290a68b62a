"""What the reconciler does with a QUEUED job that is due: its submit message is late or lost.

A job waiting for a slot goes into the line (a slot, not a message, is what it needs). A job whose
paid POST is unresolved is sent a new message instead: looking needs no slot, and in the line it
would wait while the list it must read grows (past the lookup's reach, it would fail
`submit_outcome_unknown`). A job holding a slot is sent one too: the next attempt looks, or takes
the lease over once it has run out.
"""

from __future__ import annotations

from datetime import timedelta

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


@pytest.fixture
def world():
    store, queue = FakeJobStore(), FakeSubmitQueue()
    reconciler = Reconciler(
        store, FakeLeonardo(), FakeEventQueue(), queue, FakeClock(), Policy(max_in_flight=4)
    )
    return store, queue, reconciler


def due_queued(store: FakeJobStore, **fields):
    return store.add(make_job(JobStatus.QUEUED, due_at=epoch(T0) - 1, **fields))


def test_a_job_waiting_for_a_slot_goes_into_the_line(world):
    store, queue, reconciler = world
    job = due_queued(store)
    assert reconciler.check(job.id) == "parked"
    assert queue.sent == [] and store.get(job.id).line_turn is not None


def test_a_job_with_an_unresolved_post_is_sent_again_never_parked(world):
    store, queue, reconciler = world
    job = due_queued(store, submit_uncertain_since=T0 - timedelta(seconds=10), post_fingerprint="f")
    assert reconciler.check(job.id) == "resubmitted"
    stored = store.get(job.id)
    assert queue.sent == [(job.id, job.submit_token + 1)] and stored.submit_token == job.submit_token + 1
    assert stored.line_turn is None


def test_a_job_holding_a_slot_is_sent_again(world):
    store, queue, reconciler = world
    job = due_queued(store, slot_held=True, slot_acquired_at=T0 - timedelta(seconds=200))
    assert reconciler.check(job.id) == "resubmitted"
    assert queue.sent == [(job.id, job.submit_token + 1)]
