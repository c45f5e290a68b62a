"""Leonardo's concurrency pools, read as a specification (domain/policy.py, domain/waiting.py): the
contract documents one pool, so by default video jobs count against the image pool's cap. Configured
apart (`LeonardoVideoMaxConcurrency`), video has its own cap and its own waiting line: a slot freed in
one pool wakes a job that can use it, never one that would only park again, and a job's release gives
back the pool its slot came from, whatever the configuration says by then."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from gencore.domain.models import JobStatus
from gencore.domain.policy import IMAGE, VIDEO
from gencore.domain.reconcile import Reconciler
from gencore.domain.sources import Sources
from gencore.domain.submit import Submitter
from gencore.domain.waiting import Waker
from tests.support.fakes import SUBMIT_POLICY, T0, FakeEventQueue, FakeLeonardo, make_job

pytestmark = pytest.mark.unit

APART = replace(SUBMIT_POLICY, max_in_flight=2, video_max_in_flight=1)


def image(store, n: int):
    request = {"prompt": f"image {n}", "width": 512, "height": 512}
    return store.add(make_job(JobStatus.QUEUED, request=request, leonardo_seed=n, due_at=0))


def video(store, n: int):
    request = {"prompt": f"waves {n}", "model": "MOTION2"}
    return store.add(make_job(JobStatus.QUEUED, kind="text_to_video", request=request, due_at=0))


def submitter_with(policy, store, leonardo, queue, clock, guard) -> Submitter:
    return Submitter(store, leonardo, queue, Sources(store), clock, policy, guard=guard)


def finish(store, queue, clock, policy, job_id: str) -> None:
    """Leonardo finished the job: its slot goes back and wakes the head of its pool's line."""
    job = store.get(job_id)
    store.transition(job, JobStatus.FINALIZING, now=clock(), release_slot=True)
    Waker(store, queue, clock, policy).after_release(job.slot_pool)


def test_by_default_video_and_images_share_the_one_pool(store, leonardo, queue, clock, guard):
    submit = submitter_with(SUBMIT_POLICY, store, leonardo, queue, clock, guard).submit
    assert submit(image(store, 0).id).outcome == "submitted"
    assert submit(video(store, 1).id).outcome == "submitted"
    late = video(store, 2)
    assert submit(late.id).outcome == "waiting"  # two in flight: the cap of the one pool
    assert store.in_flight(IMAGE) == 2 and store.partition[late.id] == "L"


def test_configured_apart_video_has_its_own_cap_and_leaves_the_image_slots_alone(
    store, leonardo, queue, clock, guard
):
    submit = submitter_with(APART, store, leonardo, queue, clock, guard).submit
    first = video(store, 0)
    assert submit(first.id).outcome == "submitted" and store.get(first.id).slot_pool == VIDEO
    second = video(store, 1)
    assert submit(second.id).outcome == "waiting" and store.partition[second.id] == f"L:{VIDEO}"
    images = [image(store, n) for n in range(2)]
    assert [submit(job.id).outcome for job in images] == ["submitted", "submitted"]
    assert (store.in_flight(IMAGE), store.in_flight(VIDEO)) == (2, 1)


def test_a_freed_slot_wakes_the_head_of_its_own_pools_line(store, leonardo, queue, clock, guard):
    submit = submitter_with(APART, store, leonardo, queue, clock, guard).submit
    running_video = video(store, 0)
    running_images = [image(store, n) for n in range(2)]
    for job in (running_video, *running_images):
        assert submit(job.id).outcome == "submitted"
    waiting_video, waiting_image = video(store, 1), image(store, 9)
    assert submit(waiting_video.id).outcome == "waiting" and submit(waiting_image.id).outcome == "waiting"

    finish(store, queue, clock, APART, running_images[0].id)  # an image slot: the image waits no more
    assert queue.sent[-1][0] == waiting_image.id
    assert submit(waiting_image.id, token=queue.sent[-1][1]).outcome == "submitted"

    finish(store, queue, clock, APART, running_video.id)  # the video slot: the video's turn
    assert queue.sent[-1][0] == waiting_video.id
    assert submit(waiting_video.id, token=queue.sent[-1][1]).outcome == "submitted"
    assert (store.in_flight(IMAGE), store.in_flight(VIDEO)) == (2, 1)


def test_the_reconciler_hands_each_pools_free_slots_to_its_own_line(store, queue, clock):
    def waiting(n: int, **fields):
        return make_job(JobStatus.QUEUED, created_at=T0 + timedelta(seconds=n), line_turn=n, **fields)

    videos = [store.add(waiting(n, kind="text_to_video"), partition=f"L:{VIDEO}").id for n in range(3)]
    images = [store.add(waiting(n), partition="L").id for n in range(3)]
    Reconciler(store, FakeLeonardo(), FakeEventQueue(), queue, clock, APART).run()
    woken = {job_id for job_id, _ in queue.sent}
    assert woken == {videos[0], *images[:2]}  # one video slot, two image slots


def test_a_release_gives_back_the_pool_the_slot_came_from_after_the_configuration_changed(
    store, leonardo, queue, clock, guard
):
    job = video(store, 0)
    assert submitter_with(APART, store, leonardo, queue, clock, guard).submit(job.id).outcome == "submitted"
    # Redeployed with one pool: the running video still gives its slot back to the video count.
    store.transition(store.get(job.id), JobStatus.FINALIZING, now=clock(), release_slot=True)
    assert (store.in_flight(IMAGE), store.in_flight(VIDEO)) == (0, 0)


def test_a_line_of_a_pool_no_longer_kept_apart_moves_to_the_image_line(store, leonardo, queue, clock, guard):
    old = make_job(JobStatus.QUEUED, kind="text_to_video", request={"prompt": "w"}, line_turn=1, due_at=1)
    stranded = store.add(old, partition=f"L:{VIDEO}")
    for n in range(2):  # the one pool is full now
        assert (
            submitter_with(SUBMIT_POLICY, store, leonardo, queue, clock, guard)
            .submit(image(store, n).id)
            .outcome
            == "submitted"
        )
    Reconciler(store, FakeLeonardo(), FakeEventQueue(), queue, clock, SUBMIT_POLICY).run()
    assert queue.sent[-1][0] == stranded.id  # woken out of the retired line...
    submit = submitter_with(SUBMIT_POLICY, store, leonardo, queue, clock, guard).submit
    assert submit(stranded.id, token=queue.sent[-1][1]).outcome == "waiting"
    assert store.partition[stranded.id] == "L"  # ...into the line of the pool it counts against now
