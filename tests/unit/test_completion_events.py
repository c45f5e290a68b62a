"""Completion events, read as a specification (domain/events.py, docs/events.md): every job that ends
COMPLETE, FAILED or CANCELLED leaves one event in the outbox with the write that ends it, built from
the job alone, with a stable id; the writer publishes it at once, the safety net whatever is left."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from gencore.domain.events import (
    SAFETY_NET_DELAY_SECONDS,
    EventRelay,
    completion_detail,
    completion_event,
    cost_of,
    is_completion,
)
from gencore.domain.models import Charge, Cost, GenerationEvent, JobStatus, LeonardoImage, OutputImage
from gencore.domain.policy import Policy
from gencore.domain.processing import Processor
from gencore.domain.removal import Removal
from gencore.domain.waiting import Waker
from tests.support.fakes import (
    T0,
    FakeClock,
    FakeEventBus,
    FakeJobStore,
    FakeLeonardo,
    FakeOutputStore,
    FakeSubmitQueue,
    RemovingLeonardo,
    completed_job,
    make_job,
)

pytestmark = pytest.mark.unit

CDN = "https://cdn.leonardo.example"
FINISHED = T0 + timedelta(minutes=3)


def _charge(state: str, **fields) -> Charge:
    return Charge(state=state, unit="CREDITS", estimate="15", day="2030-01-01", month="2030-01", **fields)


# ----- the detail: a pure function of the job --------------------------------------------------------


def test_a_completed_jobs_detail_names_the_job_its_outputs_cost_plan_lineage_and_times():
    job = completed_job(images=2, plan="pro", cost=Cost(amount="12.5", unit="CREDITS"),
                        source={"upload_id": "up-1"}, updated_at=FINISHED)  # fmt: skip

    detail = completion_detail(job)

    assert detail == {
        "version": "1",
        "event_id": f"{job.id}:COMPLETE",
        "job_id": job.id,
        "user_id": "alice",
        "kind": "text_to_image",
        "status": "COMPLETE",
        "error_code": None,
        "output_keys": [f"outputs/alice/{job.id}/0.png", f"outputs/alice/{job.id}/1.png"],
        "cost": {"amount": "12.5", "unit": "CREDITS", "source": "leonardo"},
        "plan": "pro",
        "source": {"upload_id": "up-1"},
        "created_at": "2030-01-01T12:00:00Z",
        "finished_at": "2030-01-01T12:03:00Z",
    }
    assert json.loads(json.dumps(detail)) == detail  # plain JSON: what PutEvents carries


def test_a_failed_jobs_detail_carries_its_error_code_and_no_outputs():
    job = make_job(JobStatus.FAILED, error_code="generation_failed", error_message="Leonardo failed it",
                   updated_at=FINISHED, charge=_charge("released"))  # fmt: skip

    event = completion_event(job)

    assert event.detail_type == "Generation Failed"
    assert event.detail["error_code"] == "generation_failed"
    assert event.detail["output_keys"] == [] and event.detail["cost"] is None  # released: nothing spent


def test_a_withheld_image_has_no_output_key():
    job = completed_job(images=1, updated_at=FINISHED)
    withheld = OutputImage(index=1, leonardo_image_id="leo-x", nsfw=True, withheld=True)
    job = job.model_copy(update={"images": [*job.images, withheld]})

    assert completion_detail(job)["output_keys"] == [f"outputs/alice/{job.id}/0.png"]


def test_jobs_accepted_before_lineage_existed_name_their_upload_as_source():
    job = make_job(JobStatus.CANCELLED, request={"prompt": "a cat", "init_upload_id": "up-9"})

    assert completion_detail(job)["source"] == {"upload_id": "up-9"}


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"cost": Cost(amount="3", unit="DOLLARS", source="estimate")},
         {"amount": "3", "unit": "DOLLARS", "source": "estimate"}),
        ({"api_credit_cost": 7.5}, {"amount": "7.5", "unit": "CREDITS", "source": "leonardo"}),
        ({"charge": _charge("reserved")}, {"amount": "15", "unit": "CREDITS", "source": "estimate"}),
        ({"charge": _charge("settled", amount="14", source="leonardo")},
         {"amount": "14", "unit": "CREDITS", "source": "leonardo"}),
        ({"charge": _charge("released")}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_the_cost_is_what_leonardo_reported_else_what_the_ledger_counts(fields, shown):
    # The job view shows the same (gencore/views.py builds it with cost_of).
    assert cost_of(make_job(JobStatus.COMPLETE, **fields)) == shown


def test_the_event_id_is_derived_from_the_job_and_its_end_so_every_repeat_carries_it():
    job = make_job(JobStatus.CANCELLED, updated_at=FINISHED)

    first, again = completion_event(job), completion_event(job.model_copy())

    assert first.event_id == again.event_id == f"{job.id}:CANCELLED"
    assert "." not in first.event_id  # also the outbound webhooks' webhook-id


@pytest.mark.parametrize(
    ("before", "after", "ends"),
    [
        (JobStatus.FINALIZING, JobStatus.COMPLETE, True),
        (JobStatus.SUBMITTED, JobStatus.FAILED, True),
        (JobStatus.QUEUED, JobStatus.CANCELLED, True),
        (JobStatus.COMPLETE, JobStatus.DELETED, False),  # a deletion is not a completion
        (JobStatus.SUBMITTED, JobStatus.FINALIZING, False),
        (JobStatus.FAILED, JobStatus.FAILED, False),  # an update of an ended job
    ],
)
def test_only_a_write_that_ends_a_job_has_an_event(before, after, ends):
    assert is_completion(before, after) is ends


# ----- the outbox: put with the write that ends the job, on every path -------------------------------


@pytest.fixture
def store() -> FakeJobStore:
    return FakeJobStore()


def _processor(store, clock) -> Processor:
    waker = Waker(store, FakeSubmitQueue(), clock, Policy())
    return Processor(store, FakeOutputStore(), FakeLeonardo(), waker, clock, Policy())


def test_a_job_the_processor_completes_leaves_its_event_in_the_outbox(store):
    job = store.add(make_job(JobStatus.SUBMITTED, plan="free"))
    images = [LeonardoImage(id="img-0", url=f"{CDN}/{job.generation_id}/0.png")]
    event = GenerationEvent(source="reconciler", generation_id=job.generation_id, status="COMPLETE",
                            images=images)  # fmt: skip

    assert _processor(store, FakeClock(FINISHED)).handle(event) == "completed"

    [stored] = store.outbox.events.values()
    assert (stored.event_id, stored.detail_type) == (f"{job.id}:COMPLETE", "Generation Completed")
    assert stored.detail["output_keys"] == [f"outputs/alice/{job.id}/0.png"]
    assert stored.occurred_at == FINISHED


def test_a_job_leonardo_failed_leaves_a_failed_event(store):
    job = store.add(make_job(JobStatus.SUBMITTED))
    event = GenerationEvent(source="reconciler", generation_id=job.generation_id, status="FAILED")

    _processor(store, FakeClock(FINISHED)).handle(event)

    [stored] = store.outbox.events.values()
    assert stored.detail_type == "Generation Failed" and stored.detail["status"] == "FAILED"
    assert stored.detail["error_code"] == store.get(job.id).error_code is not None


def test_a_cancelled_job_leaves_a_cancelled_event(store):
    job = store.add(make_job(JobStatus.QUEUED, slot_held=False))

    Removal(store, FakeOutputStore(), RemovingLeonardo(), FakeClock(FINISHED)).cancel("alice", job.id)

    assert [e.detail_type for e in store.outbox.events.values()] == ["Generation Cancelled"]


def test_a_failure_from_any_writer_leaves_an_event_and_a_deletion_leaves_none(store):
    # The submitter, the reconciler and the waiting line's expiry all fail jobs through transition.
    job = store.add(make_job(JobStatus.QUEUED, slot_held=False))
    failed = store.transition(job, JobStatus.FAILED, now=FINISHED, error_code="expired_in_queue")

    store.transition(failed, JobStatus.DELETED, now=FINISHED + timedelta(hours=1))

    assert list(store.outbox.events) == [f"{job.id}:FAILED"]


def test_a_write_that_loses_its_race_leaves_no_event(store):
    job = store.add(make_job(JobStatus.SUBMITTED))
    store.transition(job, JobStatus.FAILED, now=FINISHED, error_code="generation_failed")

    with pytest.raises(Exception, match="no longer"):
        store.transition(job, JobStatus.CANCELLED, now=FINISHED)  # read as SUBMITTED: stale

    assert list(store.outbox.events) == [f"{job.id}:FAILED"]


# ----- the relay: the fast path and the safety net -----------------------------------------------------


@pytest.fixture
def bus() -> FakeEventBus:
    return FakeEventBus()


def _ended(store, clock) -> str:
    job = store.add(make_job(JobStatus.QUEUED, slot_held=False))
    store.cancel(job, now=clock())
    return f"{job.id}:CANCELLED"


def test_the_fast_path_publishes_at_once_and_marks_the_event_published(store, bus):
    clock = FakeClock(FINISHED)
    relay = EventRelay(store.outbox, bus, clock)
    store.on_event = lambda event: relay.publish([event])

    event_id = _ended(store, clock)

    assert [e.event_id for e in bus.accepted] == [event_id]
    assert store.outbox.published == {event_id: FINISHED}
    assert relay.drain() == {"published": 0, "failed": 0}  # nothing left for the safety net


def test_an_event_the_bus_refused_stays_pending_and_the_safety_net_publishes_it_with_the_same_id(store, bus):
    clock = FakeClock(FINISHED)
    relay = EventRelay(store.outbox, bus, clock)
    store.on_event = lambda event: relay.publish([event])
    bus.down = True
    event_id = _ended(store, clock)  # the write stands; the publish failed quietly
    bus.down = False

    assert relay.drain() == {"published": 0, "failed": 0}  # the writer's head start is not over yet
    clock.advance(SAFETY_NET_DELAY_SECONDS)
    assert relay.drain() == {"published": 1, "failed": 0}

    assert [e.event_id for e in bus.accepted] == [event_id]
    assert bus.accepted[0] == store.outbox.events[event_id]  # the stored event, unchanged


def test_a_crash_before_the_publish_leaves_the_event_pending_for_the_safety_net(store, bus):
    clock = FakeClock(FINISHED)
    event_id = _ended(store, clock)  # no fast path ran: the function died after its write

    clock.advance(SAFETY_NET_DELAY_SECONDS + 30)
    EventRelay(store.outbox, bus, clock).drain()

    assert [e.event_id for e in bus.accepted] == [event_id]
    assert event_id in store.outbox.published


def test_a_published_event_left_marked_pending_is_published_again_with_the_same_id(store, bus):
    clock = FakeClock(FINISHED)
    event_id = _ended(store, clock)
    store.outbox.mark_published = lambda event, now: (_ for _ in ()).throw(ConnectionError())  # type: ignore[method-assign]
    relay = EventRelay(store.outbox, bus, clock)
    relay.publish([store.outbox.events[event_id]])

    clock.advance(SAFETY_NET_DELAY_SECONDS)
    relay.drain(max_pages=1)

    # A repeat with the same id: consumers drop it.
    assert [e.event_id for e in bus.accepted] == [event_id, event_id]


def test_one_refused_entry_does_not_hold_back_the_others(store, bus):
    clock = FakeClock(FINISHED)
    ids = [_ended(store, clock) for _ in range(3)]
    bus.refuse = {ids[1]}
    clock.advance(SAFETY_NET_DELAY_SECONDS)

    result = EventRelay(store.outbox, bus, clock).drain()

    assert result == {"published": 2, "failed": 1}
    assert set(store.outbox.published) == {ids[0], ids[2]}


def test_the_safety_net_publishes_a_backlog_page_by_page_oldest_first(store, bus):
    clock = FakeClock(FINISHED)
    ids = []
    for _ in range(25):
        ids.append(_ended(store, clock))
        clock.advance(1)
    clock.advance(SAFETY_NET_DELAY_SECONDS)

    assert EventRelay(store.outbox, bus, clock).drain(page=10) == {"published": 25, "failed": 0}
    assert [e.event_id for e in bus.accepted] == ids
