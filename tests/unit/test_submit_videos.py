"""Paying once for a video (text-to-video, image-to-video, the SVD motion), read as a specification.
No lookup is documented that could recognise a video request in Leonardo's list, so an answer that
does not say what happened (a timeout after sending, a 5xx, an unreadable answer, our own crash
after sending) fails the job `submit_outcome_unknown` and the paid POST is never sent again; a
refusal before anything was created (429) is retried."""

from __future__ import annotations

import pytest

from gencore.domain.errors import LeonardoBusy, SubmitOutcomeUnknown
from gencore.domain.models import JobStatus
from tests.support.fakes import SUBMIT_POLICY, FakeJobStore, completed_job, make_job

pytestmark = pytest.mark.unit
REQUESTS = {
    "text_to_video": ({"prompt": "waves", "model": "MOTION2"}, None),
    "image_to_video": ({"prompt": "slowly", "model": "MOTION2"}, 0),
    "motion": ({"motion_strength": 5}, 1),
}
ROUTES = {
    "text_to_video": "/generations-text-to-video",
    "image_to_video": "/generations-image-to-video",
    "motion": "/generations-motion-svd",
}


def video(store: FakeJobStore, kind: str):
    request, index = REQUESTS[kind]
    source = None
    if index is not None:
        original = store.add(completed_job())
        source = {"job_id": original.id, "index": index}
    job = make_job(JobStatus.QUEUED, kind=kind, request=request | ({"source": source} if source else {}),
                   source=source, due_at=0)  # fmt: skip
    return store.add(job)


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_a_video_is_sent_once_on_its_motion_route_and_then_polled(submitter, store, leonardo, kind):
    job = video(store, kind)
    assert submitter.submit(job.id).outcome == "submitted"
    [call] = leonardo.calls
    assert call.route == ROUTES[kind] and call.body["isPublic"] is False
    stored = store.get(job.id)
    assert stored.status == JobStatus.SUBMITTED and stored.due_at is not None  # polled: no webhook
    assert store.locks == {}  # nothing to look for in a list: no request lock


@pytest.mark.parametrize(
    "answer",
    [
        "unknown",  # created, the answer lost (read timeout after sending, connection dropped)
        SubmitOutcomeUnknown("Leonardo answered 502 after the request was sent"),
        SubmitOutcomeUnknown("Leonardo's 200 answer could not be read"),
    ],
    ids=["timeout after sending", "5xx", "unreadable answer"],
)
@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_an_answer_that_does_not_say_what_happened_fails_the_job_without_a_second_post(
    submitter, store, leonardo, kind, answer
):
    job = video(store, kind)
    leonardo.script = [answer]
    assert submitter.submit(job.id).outcome == "failed"
    stored = store.get(job.id)
    assert (stored.status, stored.error_code) == (JobStatus.FAILED, "submit_outcome_unknown")
    assert leonardo.posts == 1 and store.in_flight() == 0
    assert submitter.submit(job.id).outcome == "skipped" and leonardo.posts == 1


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_a_crash_after_the_post_fails_the_job_at_the_next_holder_without_a_second_post(
    submitter, store, leonardo, clock, kind
):
    job = video(store, kind)

    def database_error(*args, **kwargs):
        raise RuntimeError("DynamoDB unavailable")

    store.mark_submitted = database_error  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        submitter.submit(job.id)  # Leonardo created it; the invocation died before recording it
    del store.mark_submitted
    clock.advance(SUBMIT_POLICY.submit_lease_seconds + 1)  # the lease runs out: the next holder takes over
    assert submitter.submit(job.id).outcome == "failed"
    assert store.get(job.id).error_code == "submit_outcome_unknown" and leonardo.posts == 1


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_a_refusal_before_anything_was_created_is_retried(submitter, store, leonardo, clock, kind):
    job = video(store, kind)
    leonardo.script = [LeonardoBusy("429", retry_after=2)]
    assert submitter.submit(job.id).outcome == "throttled"
    assert store.get(job.id).status == JobStatus.QUEUED and store.get(job.id).submit_uncertain_since is None
    clock.advance(2)  # its Retry-After: every create waited for it
    assert submitter.submit(job.id, token=store.get(job.id).submit_token).outcome == "submitted"
    assert leonardo.posts == 2 and len(leonardo.created) == 1
