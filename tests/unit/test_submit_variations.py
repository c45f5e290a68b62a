"""Paying once for a variation (upscale, unzoom, no background, universal upscaler), read as a
specification. Leonardo lists no variations by what was asked, so an answer that does not say what
happened can never be resolved by looking: the job fails `submit_outcome_unknown` and the paid
POST is never sent a second time, whoever picks the job up next."""

from __future__ import annotations

import pytest

from gencore.domain.errors import LeonardoBusy, SubmitOutcomeUnknown
from gencore.domain.models import JobStatus
from tests.support.fakes import (
    SUBMIT_POLICY,
    FakeJobStore,
    completed_job,
    make_job,
)

pytestmark = pytest.mark.unit
POLICY = SUBMIT_POLICY


def variation(store: FakeJobStore, kind: str = "upscale", **fields):
    original = store.add(completed_job())
    return store.add(
        make_job(JobStatus.QUEUED, kind=kind, request={"type": kind}, due_at=0,
                 source={"job_id": original.id, "index": 1}, **fields)
    ), original  # fmt: skip


def test_a_variation_is_sent_once_naming_leonardos_image_and_then_polled(submitter, store, leonardo):
    job, original = variation(store)
    assert submitter.submit(job.id).outcome == "submitted"
    [call] = leonardo.calls
    assert call.route == "/variations/upscale" and call.body == {"id": original.images[1].leonardo_image_id}
    stored = store.get(job.id)
    assert stored.status == JobStatus.SUBMITTED and stored.generation_id == leonardo.created[0].id
    assert stored.due_at is not None and store.locks == {}  # the reconciler polls it: no webhook


@pytest.mark.parametrize(
    "answer",
    [
        "unknown",  # created, the answer lost (read timeout after sending, connection dropped)
        SubmitOutcomeUnknown("Leonardo answered 502 after the request was sent"),
        SubmitOutcomeUnknown("Leonardo's 200 answer could not be read"),
    ],
    ids=["timeout after sending", "5xx", "unreadable answer"],
)
def test_an_answer_that_does_not_say_what_happened_fails_the_job_without_a_second_post(
    submitter, store, leonardo, answer
):
    job, _ = variation(store)
    leonardo.script = [answer]
    assert submitter.submit(job.id).outcome == "failed"
    stored = store.get(job.id)
    assert (stored.status, stored.error_code) == (JobStatus.FAILED, "submit_outcome_unknown")
    assert leonardo.posts == 1 and store.in_flight() == 0 and store.locks == {}
    assert submitter.submit(job.id).outcome == "skipped" and leonardo.posts == 1


def test_a_crash_after_the_post_fails_the_job_at_the_next_holder_without_a_second_post(
    submitter, store, leonardo, clock
):
    job, _ = variation(store, kind="no_background")

    def database_error(*args, **kwargs):
        raise RuntimeError("DynamoDB unavailable")

    store.mark_submitted = database_error  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        submitter.submit(job.id)  # Leonardo created it; the invocation died before recording it
    del store.mark_submitted
    clock.advance(POLICY.submit_lease_seconds + 1)  # the lease runs out: the next holder takes over
    assert submitter.submit(job.id).outcome == "failed"
    assert store.get(job.id).error_code == "submit_outcome_unknown" and leonardo.posts == 1


def test_a_refusal_before_anything_was_created_is_retried(submitter, store, leonardo, clock):
    job, _ = variation(store, kind="unzoom")
    leonardo.script = [LeonardoBusy("429", retry_after=2)]
    assert submitter.submit(job.id).outcome == "throttled"
    assert store.get(job.id).status == JobStatus.QUEUED and store.get(job.id).submit_uncertain_since is None
    clock.advance(2)  # its Retry-After: every create waited for it
    assert submitter.submit(job.id, token=store.get(job.id).submit_token).outcome == "submitted"
    assert leonardo.posts == 2 and len(leonardo.created) == 1


def test_a_source_deleted_before_the_submit_fails_the_job_before_any_paid_call(submitter, store, leonardo):
    job, original = variation(store)
    store.jobs[original.id] = original.model_copy(update={"status": JobStatus.DELETED})
    assert submitter.submit(job.id).outcome == "failed"
    assert store.get(job.id).error_code == "source_unavailable" and leonardo.posts == 0
