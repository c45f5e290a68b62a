"""Cancel and delete, read as a specification (domain/removal.py): cancel only while Leonardo
cannot have the job; delete only once it ended, our copies first, then Leonardo's, repeatable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gencore.domain.errors import JobNotFound, LeonardoBusy, NotCancellable, NotDeletable
from gencore.domain.models import JobStatus
from gencore.domain.removal import Removal
from tests.support.fakes import (
    T0,
    FakeClock,
    FakeJobStore,
    FakeOutputStore,
    RemovingLeonardo,
    completed_job,
    image_pool,
    make_job,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def store() -> FakeJobStore:
    return FakeJobStore()


@pytest.fixture
def outputs() -> FakeOutputStore:
    return FakeOutputStore()


@pytest.fixture
def leonardo() -> RemovingLeonardo:
    return RemovingLeonardo()


@pytest.fixture
def removal(store, outputs, leonardo) -> Removal:
    return Removal(store, outputs, leonardo, FakeClock())


# --- cancel ------------------------------------------------------------------------------------


def test_a_job_waiting_in_line_is_cancelled_and_leaves_the_line(store, removal):
    job = store.add(make_job(JobStatus.QUEUED, due_at=0), partition="L")
    cancelled = removal.cancel("alice", job.id)
    assert cancelled.status == JobStatus.CANCELLED and store.get(job.id).status == JobStatus.CANCELLED
    assert store.line() == [] and store.in_flight() == 0


def test_cancelling_again_answers_the_same(store, removal):
    job = store.add(make_job(JobStatus.QUEUED, due_at=0))
    assert (
        removal.cancel("alice", job.id).status
        == removal.cancel("alice", job.id).status
        == JobStatus.CANCELLED
    )


@pytest.mark.parametrize(
    "held",
    [
        {"slot_held": True, "slot_acquired_at": T0},  # a submitter holds it: its POST may be on the way
        {"submit_uncertain_since": T0 - timedelta(seconds=5)},  # a POST of it went unanswered
    ],
    ids=["slot claimed", "unanswered POST"],
)
def test_a_job_leonardo_may_have_cannot_be_cancelled(store, removal, held):
    job = store.add(make_job(JobStatus.QUEUED, due_at=0, **held))
    with pytest.raises(NotCancellable):
        removal.cancel("alice", job.id)
    assert store.get(job.id).status == JobStatus.QUEUED


@pytest.mark.parametrize("status", [JobStatus.SUBMITTED, JobStatus.COMPLETE, JobStatus.FAILED])
def test_a_job_past_the_line_cannot_be_cancelled(store, removal, status):
    job = store.add(make_job(status) if status == JobStatus.SUBMITTED else completed_job(status=status))
    with pytest.raises(NotCancellable):
        removal.cancel("alice", job.id)


def test_a_submitter_claiming_the_job_during_the_cancel_wins(store, removal):
    job = store.add(make_job(JobStatus.QUEUED, due_at=0))
    original = store.cancel

    def claimed_first(job, *, now):
        store.claim_slot(job.id, pools=image_pool(10), now=now, lease_seconds=120)
        return original(job, now=now)

    store.cancel = claimed_first
    with pytest.raises(NotCancellable):
        removal.cancel("alice", job.id)
    assert store.get(job.id).slot_held


def test_another_users_job_does_not_exist_for_the_caller(store, removal):
    job = store.add(make_job(JobStatus.QUEUED, due_at=0))
    with pytest.raises(JobNotFound):
        removal.cancel("bob", job.id)
    with pytest.raises(JobNotFound):
        removal.delete("bob", job.id)


# --- delete ------------------------------------------------------------------------------------


def test_deleting_a_finished_generation_deletes_our_copies_then_leonardos(store, outputs, leonardo, removal):
    job = store.add(completed_job())
    deleted = removal.delete("alice", job.id)
    assert deleted.status == JobStatus.DELETED and deleted.leonardo_copy == "deleted"
    assert outputs.deleted == [image.key for image in job.images]
    assert leonardo.deleted == [job.generation_id]
    assert store.get(job.id).images == job.images  # the record stays for lineage


def test_when_leonardo_cannot_be_reached_the_job_is_deleted_here_and_a_repeat_finishes(
    store, outputs, leonardo, removal
):
    job = store.add(completed_job())
    leonardo.failures.append(LeonardoBusy("Leonardo answers 503"))
    with pytest.raises(LeonardoBusy):
        removal.delete("alice", job.id)
    pending = store.get(job.id)
    assert pending.status == JobStatus.DELETED and pending.leonardo_copy == "pending"  # unusable from now on
    again = removal.delete("alice", job.id)
    assert again.leonardo_copy == "deleted" and leonardo.deleted == [job.generation_id]
    assert removal.delete("alice", job.id).leonardo_copy == "deleted" and leonardo.deleted == [
        job.generation_id
    ]


def test_a_variation_has_no_delete_at_leonardo_so_only_our_copies_go_and_that_is_recorded(
    store, outputs, leonardo, removal
):
    job = store.add(completed_job(kind="upscale", images=1))
    deleted = removal.delete("alice", job.id)
    assert (
        deleted.leonardo_copy == "kept" and leonardo.deleted == [] and outputs.deleted == [job.images[0].key]
    )


def test_a_job_leonardo_never_had_is_deleted_here_only(store, leonardo, removal):
    job = store.add(completed_job(status=JobStatus.CANCELLED, images=0, generation_id=None))
    assert removal.delete("alice", job.id).leonardo_copy is None and leonardo.deleted == []


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.SUBMITTED, JobStatus.FINALIZING])
def test_a_job_not_yet_ended_cannot_be_deleted(store, removal, status):
    job = store.add(make_job(status))
    with pytest.raises(NotDeletable):
        removal.delete("alice", job.id)
    assert store.get(job.id).status == status
