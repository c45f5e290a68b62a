"""The Submitter, read as a specification of the paid POST: one generation per job, the job's own.

In-memory fakes of the ports (tests/support/fakes.py) keep the adapter's conditions: the claim
fence, a generation recorded once, the request lock. `PaidLeonardo` scripts each POST's outcome.
"""

from __future__ import annotations

import pytest

from gencore.domain.account import AUTH
from gencore.domain.errors import AccountRefused, LeonardoBusy, LeonardoRejected, LookupIncomplete
from gencore.domain.models import Job, JobStatus
from gencore.domain.policy import epoch
from tests.support.fakes import (
    SUBMIT_POLICY,
    FakeJobStore,
    image_pool,
    make_job,
)

pytestmark = pytest.mark.unit

POLICY = SUBMIT_POLICY


def queued(store: FakeJobStore, *, seed: int | None = None, leonardo_seed: int = 1234, **request) -> Job:
    body = {"prompt": "a red fox", "width": 512, "height": 512, "num_images": 1, "seed": seed} | request
    return store.add(make_job(JobStatus.QUEUED, request=body, leonardo_seed=leonardo_seed, due_at=0))


def test_a_job_is_sent_once_with_its_own_seed_and_recorded(submitter, store, leonardo):
    job = queued(store)
    assert submitter.submit(job.id).outcome == "submitted"
    [generation] = leonardo.created
    assert generation.call.body["seed"] == 1234
    stored = store.get(job.id)
    assert stored.status == JobStatus.SUBMITTED and stored.generation_id == generation.id
    assert stored.submit_uncertain_since is None and store.locks == {}


def test_an_unanswered_post_that_created_the_generation_is_adopted_in_the_same_attempt(
    submitter, store, leonardo
):
    leonardo.script = ["unknown"]
    job = queued(store)
    assert submitter.submit(job.id).outcome == "adopted"
    assert leonardo.posts == 1
    assert store.get(job.id).generation_id == leonardo.created[0].id
    assert store.in_flight() == 1  # the slot stays with the job Leonardo is now running


def test_an_unanswered_post_that_created_nothing_is_looked_for_until_the_settle_window_ends(
    submitter, store, leonardo, queue, clock
):
    leonardo.script = ["lost"]
    job = queued(store)
    assert submitter.submit(job.id).outcome == "uncertain"
    assert store.get(job.id).submit_uncertain_since and store.in_flight() == 0
    token = queue.sent[-1][1]
    clock.advance(30)
    assert submitter.submit(job.id, token=token).outcome == "uncertain"  # still in the window
    assert leonardo.posts == 1
    clock.advance(31)
    assert submitter.submit(job.id, token=token).outcome == "submitted"
    assert leonardo.posts == 2 and len(leonardo.created) == 1


def test_while_the_list_cannot_be_read_nothing_is_sent(submitter, store, leonardo, clock):
    leonardo.script = ["lost"]
    job = queued(store)
    submitter.submit(job.id)
    leonardo.list_error = LeonardoBusy("429 on the list")
    clock.advance(600)
    assert submitter.submit(job.id).outcome == "uncertain"
    assert leonardo.posts == 1 and store.get(job.id).status == JobStatus.QUEUED


def test_a_list_that_cannot_be_read_back_far_enough_fails_the_job(submitter, store, leonardo):
    leonardo.script = ["lost"]
    leonardo.list_error = LookupIncomplete("more than 1000 generations since")
    job = queued(store)
    assert submitter.submit(job.id).outcome == "failed"
    stored = store.get(job.id)
    assert (stored.status, stored.error_code) == (JobStatus.FAILED, "submit_outcome_unknown")
    assert store.in_flight() == 0 and store.locks == {}


def test_an_uncertainty_older_than_the_job_age_limit_fails_the_job(submitter, store, leonardo, clock):
    leonardo.script = ["lost"]
    leonardo.list_error = LeonardoBusy("down")
    job = queued(store)
    submitter.submit(job.id)
    clock.advance(POLICY.max_job_age_seconds + 1)
    assert submitter.submit(job.id).outcome == "failed"
    assert store.get(job.id).error_code == "submit_outcome_unknown"


def test_with_the_callers_seed_two_matching_generations_fail_the_job_rather_than_guess(
    submitter, store, leonardo
):
    job = queued(store, seed=7, leonardo_seed=7)
    leonardo.listed(job.request, seed=7)  # someone else's, the very same request, never recorded
    leonardo.script = ["unknown"]
    assert submitter.submit(job.id).outcome == "failed"
    assert store.get(job.id).error_code == "submit_outcome_unknown"


def test_with_our_own_seed_the_oldest_matching_generation_is_adopted(submitter, store, leonardo, clock):
    """Two generations echo a job whose seed is ours: both are the job's (a POST Leonardo created
    late, then our re-send). The first is adopted; the other is an orphan the sweep reports."""
    job = queued(store)
    leonardo.script = ["unknown"]
    leonardo.on_post = lambda: (clock.advance(1), leonardo.listed(job.request, seed=1234))
    assert submitter.submit(job.id).outcome == "adopted"
    assert len(leonardo.created) == 2
    oldest = min(leonardo.created, key=lambda g: g.created_at)
    assert store.get(job.id).generation_id == oldest.id


def test_a_generation_another_job_recorded_is_never_adopted(submitter, store, leonardo):
    job = queued(store)
    leonardo.script = ["unknown"]
    leonardo.on_post = lambda: store.owners.__setitem__(leonardo.created[-1].id, "another-job")
    assert submitter.submit(job.id).outcome == "uncertain"
    stored = store.get(job.id)
    assert stored.generation_id is None and stored.status == JobStatus.QUEUED
    assert store.owners[leonardo.created[0].id] == "another-job"


def die_after_sending(submitter, store, job: Job) -> Job:
    """The submitter's POST is answered, and its invocation dies before recording it."""
    original = store.mark_submitted

    def database_error(*args, **kwargs):
        raise RuntimeError("DynamoDB unavailable")

    store.mark_submitted = database_error
    with pytest.raises(RuntimeError):
        submitter.submit(job.id)
    store.mark_submitted = original
    return store.get(job.id)


def test_a_crash_after_the_post_is_resolved_by_the_next_holder_without_paying_again(
    submitter, store, leonardo, clock
):
    job = queued(store)
    stored = die_after_sending(submitter, store, job)  # Leonardo created it; nothing recorded
    assert stored.status == JobStatus.QUEUED and stored.slot_held and stored.submit_uncertain_since

    assert submitter.submit(job.id).outcome == "uncertain"  # the lease is still live: come back later
    clock.advance(POLICY.submit_lease_seconds + 1)
    assert submitter.submit(job.id).outcome == "adopted"
    assert leonardo.posts == 1 and store.get(job.id).generation_id == leonardo.created[0].id
    assert store.in_flight() == 1


def test_a_holder_that_died_after_sending_is_looked_for_once_its_post_has_settled(
    submitter, store, leonardo, queue, clock
):
    # The lease outlives the submitter's Timeout; the job and its slot need not wait for it. Once
    # the POST has gone unanswered for the settle time, the next message for the job looks, and
    # adopts under the dead holder's own claim.
    job = queued(store)
    held = die_after_sending(submitter, store, job)
    assert held.slot_held and held.submit_uncertain_since == clock()
    # The reconciler re-sends the job's message then, whatever the lease says.
    assert (
        held.due_at
        == epoch(clock()) + POLICY.submit_settle_seconds
        < epoch(clock()) + POLICY.submit_lease_seconds
    )
    clock.advance(POLICY.submit_settle_seconds - 1)
    # Its holder may still be waiting for the answer: the live message comes back after the rest.
    assert submitter.submit(job.id).outcome == "uncertain"
    assert leonardo.lookups == 0 and queue.delays[job.id] >= 1
    clock.advance(1)
    assert submitter.submit(job.id).outcome == "adopted"
    stored = store.get(job.id)
    assert stored.status == JobStatus.SUBMITTED and stored.generation_id == leonardo.created[0].id
    assert stored.slot_acquired_at == held.slot_acquired_at  # the holder's claim: no takeover, no new slot
    assert leonardo.posts == 1 and store.in_flight() == 1


def test_a_look_while_the_lease_is_live_never_sends(submitter, store, leonardo, queue, clock):
    # The holder noted its POST and died before it reached Leonardo: the list shows nothing. Only
    # the lease's next holder, with every rule of the settle window, may send again; meanwhile the
    # job's live message keeps coming back, and a stale copy is dropped.
    job = queued(store)
    claim = store.claim_slot(
        job.id, pools=image_pool(2), now=clock(), lease_seconds=POLICY.submit_lease_seconds
    )
    store.begin_post(claim.job, now=clock(), fingerprint="a red fox|512x512|1234", lock_expires_at=0)
    clock.advance(POLICY.submit_settle_seconds)
    assert submitter.submit(job.id).outcome == "uncertain"
    assert leonardo.lookups == 1 and leonardo.posts == 0 and queue.sent == [(job.id, job.submit_token)]
    store.reschedule(store.get(job.id), due_at=0, submit_token=job.submit_token + 1)  # a newer one is live
    assert submitter.submit(job.id, token=job.submit_token).outcome == "skipped"
    assert leonardo.lookups == 2 and len(queue.sent) == 1
    stored = store.get(job.id)
    assert stored.status == JobStatus.QUEUED and stored.slot_acquired_at == claim.job.slot_acquired_at
    clock.advance(POLICY.submit_lease_seconds)
    assert submitter.submit(job.id).outcome == "submitted"  # the lease's next holder sends, once
    assert leonardo.posts == 1 and store.in_flight() == 1


def test_a_look_while_the_lease_is_live_adopts_only_a_single_match(submitter, store, leonardo, clock):
    # Two generations nobody owns answer the description: which is the holder's is for the lease's
    # next holder to settle, with every rule of the lookup.
    job = queued(store)
    die_after_sending(submitter, store, job)
    leonardo.listed(job.request, seed=1234)  # an identical-looking request of another client
    clock.advance(POLICY.submit_settle_seconds)
    assert submitter.submit(job.id).outcome == "uncertain"
    assert store.get(job.id).status == JobStatus.QUEUED and leonardo.posts == 1


def test_a_holder_answered_after_a_look_adopted_its_generation_records_it_once(
    submitter, store, leonardo, clock
):
    # A slow answer: the look took the holder for dead and adopted the generation; the holder,
    # alive after all, finds its answer already recorded, and reports what it spent.
    job = queued(store)

    def another_message_meanwhile() -> None:
        clock.advance(POLICY.submit_settle_seconds)
        assert submitter.submit(job.id).outcome == "adopted"

    leonardo.on_post = another_message_meanwhile
    result = submitter.submit(job.id)
    assert result.outcome == "submitted" and result.cost is not None
    stored = store.get(job.id)
    assert stored.status == JobStatus.SUBMITTED and stored.generation_id == leonardo.created[0].id
    assert leonardo.posts == 1 and store.in_flight() == 1


def test_a_holder_whose_lease_was_taken_over_cannot_record_its_answer(submitter, store, leonardo, clock):
    job = queued(store)

    def outlived_the_lease() -> None:
        clock.advance(POLICY.submit_lease_seconds + 1)
        store.claim_slot(job.id, pools=image_pool(2), now=clock(), lease_seconds=POLICY.submit_lease_seconds)

    leonardo.on_post = outlived_the_lease
    assert submitter.submit(job.id).outcome == "superseded"
    assert store.get(job.id).status == JobStatus.QUEUED  # the new holder adopts it


def test_no_post_starts_without_time_for_its_worst_case(submitter, store, leonardo, queue):
    job = queued(store)
    assert submitter.submit(job.id, remaining=lambda: 10.0).outcome == "deferred"
    assert leonardo.posts == 0 and store.in_flight() == 0 and len(queue.sent) == 1


def test_time_spent_looking_is_checked_again_before_the_post(submitter, store, leonardo, clock):
    leonardo.script = ["lost"]
    job = queued(store)
    submitter.submit(job.id)
    clock.advance(61)
    left = iter([60.0, 5.0])
    assert submitter.submit(job.id, remaining=lambda: next(left)).outcome == "deferred"
    assert leonardo.posts == 1 and store.in_flight() == 0


def test_a_definite_refusal_clears_the_uncertainty(submitter, store, leonardo):
    leonardo.script = [LeonardoBusy("429", retry_after=7)]
    job = queued(store)
    assert submitter.submit(job.id).outcome == "throttled"
    stored = store.get(job.id)
    assert stored.submit_uncertain_since is None and store.locks == {} and store.in_flight() == 0


def test_a_permanent_refusal_fails_the_job_and_frees_everything(submitter, store, leonardo):
    leonardo.script = [LeonardoRejected("modelId is not valid")]
    job = queued(store)
    assert submitter.submit(job.id).outcome == "failed"
    assert store.get(job.id).error_code == "leonardo_rejected"
    assert store.in_flight() == 0 and store.locks == {}


def test_an_identical_request_unanswered_elsewhere_makes_this_one_wait(submitter, store, leonardo):
    leonardo.script = ["lost"]
    first = queued(store, seed=9, leonardo_seed=9)
    second = queued(store, seed=9, leonardo_seed=9)
    submitter.submit(first.id)
    assert submitter.submit(second.id).outcome == "throttled"
    assert leonardo.posts == 1 and store.get(second.id).submit_uncertain_since is None


def test_a_refused_account_trips_the_guard_and_holds_the_job_in_line(submitter, store, leonardo, guard):
    leonardo.script = [AccountRefused("key rejected twice", reason=AUTH)]
    job = queued(store)
    others = queued(store, leonardo_seed=5)
    store.park(others)
    assert submitter.submit(job.id).outcome == "held"
    assert guard.blocked().reason == AUTH
    assert job.id in store.line() and store.in_flight() == 0
    assert store.get(job.id).submit_uncertain_since is None


def test_while_the_account_is_blocked_no_post_is_sent(submitter, store, leonardo, guard):
    guard.trip(AUTH)
    job = queued(store)
    assert submitter.submit(job.id).outcome == "held"
    assert leonardo.posts == 0 and job.id in store.line() and store.in_flight() == 0


def test_an_unresolved_post_is_looked_for_without_waiting_for_a_slot(submitter, store, leonardo, clock):
    """Every slot is taken, and a job whose POST went unanswered comes back: it looks at once (a GET
    needs no slot; waiting in line would let its generation scroll away), and what it finds runs
    at Leonardo, so it counts against the cap from now on."""
    leonardo.script = ["unknown"]
    leonardo.list_error = LeonardoBusy("the list is down just now")
    job = queued(store)
    assert submitter.submit(job.id).outcome == "uncertain"  # created, unanswered, not found yet
    for _ in range(2):
        queued(store, leonardo_seed=7 + _)
        submitter.submit(list(store.jobs)[-1])  # the others take every slot
    assert store.in_flight() == 2
    leonardo.list_error = None
    assert submitter.submit(job.id).outcome == "adopted"
    assert store.get(job.id).generation_id == leonardo.created[0].id and store.in_flight() == 3


def test_without_a_slot_a_post_that_created_nothing_goes_back_to_the_line(submitter, store, leonardo, clock):
    leonardo.script = ["lost"]
    job = queued(store)
    submitter.submit(job.id)
    for seed in (8, 9):
        submitter.submit(queued(store, leonardo_seed=seed).id)
    clock.advance(POLICY.submit_settle_seconds + 1)
    assert submitter.submit(job.id).outcome == "waiting"
    stored = store.get(job.id)
    assert stored.submit_uncertain_since is None and job.id in store.line() and leonardo.posts == 3


def test_a_long_wait_alone_never_fails_a_job_whose_generation_can_still_be_found(
    submitter, store, leonardo, clock
):
    leonardo.script = ["unknown"]
    leonardo.list_error = LeonardoBusy("down")
    job = queued(store)
    submitter.submit(job.id)
    leonardo.list_error = None
    clock.advance(POLICY.max_job_age_seconds + 10)
    assert submitter.submit(job.id).outcome == "adopted"
