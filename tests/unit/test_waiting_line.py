"""The waiting line, read as a specification (domain/waiting.py): with every Leonardo slot taken, jobs
park in the line and each freed slot wakes the job whose turn it is; turns go user by user, so one
user's backlog never delays another user's job by more than one turn, and a job parked again keeps
its place."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gencore.domain.errors import LeonardoBusy
from gencore.domain.models import JobStatus
from gencore.domain.policy import epoch
from gencore.domain.waiting import Waker, turn_of
from tests.support.fakes import SUBMIT_POLICY, make_job

pytestmark = pytest.mark.unit


def submit(store, submitter, user: str, n: int) -> str:
    request = {"prompt": f"{user} {n}", "width": 512, "height": 512}
    job = store.add(make_job(JobStatus.QUEUED, user_id=user, request=request, leonardo_seed=n, due_at=0))
    submitter.submit(job.id)
    return job.id


def finish_one(store, submitter, clock, queue) -> str:
    """Leonardo finishes the oldest running job: its slot goes back, the job whose turn it is is
    woken and submitted."""
    running = sorted((j for j in store.jobs.values() if j.slot_held), key=lambda j: j.submitted_at)
    store.transition(running[0], JobStatus.FINALIZING, now=clock(), release_slot=True)
    Waker(store, queue, clock, SUBMIT_POLICY).after_release()
    woken, token = queue.sent[-1]
    assert submitter.submit(woken, token=token).outcome == "submitted"
    clock.advance(1)
    return woken


def test_a_job_arriving_behind_another_users_backlog_waits_at_most_one_turn(store, submitter, clock, queue):
    for n in range(SUBMIT_POLICY.max_in_flight):
        submit(store, submitter, "alice", n)  # every slot taken
    backlog = [submit(store, submitter, "alice", n) for n in range(2, 502)]
    bobs = submit(store, submitter, "bob", 0)
    assert len(store.line()) == 501 and store.in_flight() == SUBMIT_POLICY.max_in_flight
    woken = [finish_one(store, submitter, clock, queue) for _ in range(2)]
    # Within one slot turnover, not after 500 of alice's: bob's turn is next to her first one's.
    assert set(woken) == {backlog[0], bobs}


def test_each_users_jobs_keep_their_own_order_and_users_alternate(store, submitter, clock, queue):
    for n in range(SUBMIT_POLICY.max_in_flight):
        submit(store, submitter, "alice", n)
    alice = [submit(store, submitter, "alice", n) for n in range(2, 5)]
    bob = [submit(store, submitter, "bob", n) for n in range(3)]
    order = [finish_one(store, submitter, clock, queue) for _ in range(6)]
    assert [j for j in order if j in alice] == alice and [j for j in order if j in bob] == bob
    assert {order[0], order[1]} == {alice[0], bob[0]} and {order[2], order[3]} == {alice[1], bob[1]}


def test_a_job_parked_again_keeps_its_turn(store, submitter, clock):
    for n in range(SUBMIT_POLICY.max_in_flight):
        submit(store, submitter, "alice", n)
    first = submit(store, submitter, "carol", 0)
    turn = store.get(first).line_turn
    later = [submit(store, submitter, "dave", n) for n in range(3)]
    token = store.leave_line(first, due_at=0)  # woken, but the slot went to someone else meanwhile
    job = store.get(first)
    assert token is not None and store.park(job) and store.get(first).line_turn == turn
    turns = {job_id: store.get(job_id).line_turn for job_id in store.line()}
    assert turns[first] == min(turns.values()) and set(turns) == {first, *later}


def test_a_turn_is_never_before_the_head_and_one_past_the_users_last():
    assert turn_of(100, None) == 101 and turn_of(100, 250) == 251 and turn_of(300, 250) == 301


def test_a_job_whose_turn_comes_after_its_waiting_limit_fails_and_its_turn_passes_on(
    store, submitter, clock, queue
):
    for n in range(SUBMIT_POLICY.max_in_flight):
        submit(store, submitter, "alice", n)
    # erin's job arrived first (the line's first turn), with a minute to wait at most.
    late = store.add(make_job(JobStatus.QUEUED, user_id="erin", request={"prompt": "late", "width": 512},
                              leonardo_seed=7, due_at=0, queue_deadline=epoch(clock()) + 60,
                              created_at=clock() - timedelta(seconds=100)))  # fmt: skip
    submitter.submit(late.id)
    patient = submit(store, submitter, "frank", 0)
    clock.advance(61)
    assert finish_one(store, submitter, clock, queue) == patient
    expired = store.get(late.id)
    assert expired.status == JobStatus.FAILED and expired.error_code == "expired_in_queue"


def test_a_job_sent_again_after_its_waiting_limit_fails_instead_of_being_posted(
    store, submitter, clock, leonardo
):
    request = {"prompt": "x", "width": 512}
    job = store.add(make_job(JobStatus.QUEUED, request=request, leonardo_seed=1, due_at=0,
                             queue_deadline=epoch(clock()) - 1))  # fmt: skip
    assert submitter.submit(job.id).outcome == "failed"
    assert store.get(job.id).error_code == "expired_in_queue"
    assert leonardo.posts == 0 and store.in_flight() == 0


def test_a_create_refused_for_leonardos_rate_gives_the_slot_back_without_waking_the_line(
    store, submitter, leonardo, queue, clock
):
    # Every slot taken, carol waiting in line; one slot comes free and dave's job takes it, but
    # Leonardo refuses his create for its rate (429). Waking the line would only send carol into the
    # same 429 (one wasted call per waiting job): the slot stays free until dave's Retry-After, or
    # another release, hands it on.
    running = [submit(store, submitter, "alice", n) for n in range(SUBMIT_POLICY.max_in_flight)]
    waiter = submit(store, submitter, "carol", 0)
    assert store.get(waiter).line_turn is not None and store.partition[waiter] == "L"
    store.release_slot(store.get(running[0]), now=clock())  # a slot comes free (its wake not sent yet)
    leonardo.script = [LeonardoBusy("429", retry_after=30)]
    sent_before = len(queue.sent)
    request = {"prompt": "dave 0", "width": 512, "height": 512}
    dave = store.add(make_job(JobStatus.QUEUED, user_id="dave", request=request, leonardo_seed=1, due_at=0))
    assert submitter.submit(dave.id).outcome == "throttled"
    assert [job_id for job_id, _ in queue.sent[sent_before:] if job_id == waiter] == []
    assert store.partition[waiter] == "L" and store.in_flight() == SUBMIT_POLICY.max_in_flight - 1
