"""A callback the reconciler overtook (domain/reconcile.py, domain/processing.py).

When a backlog holds a callback in the events queue past its job's first poll, the reconciler reads
the finished generation from Leonardo and sends that record as an event of its own. It marks the
job recovered before sending. A callback processed after that reads nothing from Leonardo: it is
left to the reconciler's event, without keeping the dedupe key both events share. If the
reconciler's event is lost, the job is due again after the finalize check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gencore.domain.errors import AlreadyRecovered
from gencore.domain.models import GenerationEvent, Job, JobStatus, LeonardoImage
from gencore.domain.policy import Policy, epoch
from gencore.domain.ports import RemoteGeneration
from gencore.domain.processing import Processor
from gencore.domain.reconcile import Reconciler
from gencore.domain.waiting import Waker
from tests.support.fakes import (
    FakeClock,
    FakeJobStore,
    FakeOutputStore,
    FakeSubmitQueue,
    make_job,
)

pytestmark = pytest.mark.unit
IMAGES = [LeonardoImage(id=f"img-{n}", url=f"https://cdn.leonardo.example/{n}.png") for n in range(2)]


@dataclass
class FinishedLeonardo:
    """Every generation is finished; GETs are recorded."""

    gets: list[str] = field(default_factory=list)

    def generation(self, generation_id: str) -> RemoteGeneration:
        self.gets.append(generation_id)
        return RemoteGeneration(status="COMPLETE", images=IMAGES)


@dataclass
class EventsSeenBy:
    """The events queue, noting the job as the store held it when each event was sent."""

    store: FakeJobStore
    job_id: str
    sent: list[GenerationEvent] = field(default_factory=list)
    job_at_send: list[Job] = field(default_factory=list)

    def send(self, event: GenerationEvent) -> None:
        self.sent.append(event)
        self.job_at_send.append(self.store.get(self.job_id))


@dataclass
class World:
    store: FakeJobStore
    clock: FakeClock
    leonardo: FinishedLeonardo
    outputs: FakeOutputStore
    events: EventsSeenBy
    processor: Processor
    reconciler: Reconciler
    job: Job

    def callback(self) -> GenerationEvent:
        return GenerationEvent(source="webhook", generation_id=self.job.generation_id, status="COMPLETE")


@pytest.fixture
def w() -> World:
    store, clock, leonardo, outputs = FakeJobStore(), FakeClock(), FinishedLeonardo(), FakeOutputStore()
    job = store.add(make_job(JobStatus.SUBMITTED, due_at=0))
    events = EventsSeenBy(store, job.id)
    policy = Policy()
    waker = Waker(store, FakeSubmitQueue(), clock, policy)
    processor = Processor(store, outputs, leonardo, waker, clock, policy)
    reconciler = Reconciler(store, leonardo, events, FakeSubmitQueue(), clock, policy)
    return World(store, clock, leonardo, outputs, events, processor, reconciler, job)


def test_the_reconciler_marks_the_job_recovered_before_it_sends_the_record(w):
    assert w.reconciler.check(w.job.id) == "recovered"
    [seen] = w.events.job_at_send
    assert seen.recovered_at == w.clock()
    assert seen.due_at == epoch(w.clock()) + Policy().finalize_check_seconds  # if the event is lost
    assert w.events.sent[0].images == IMAGES and w.leonardo.gets == [w.job.generation_id]


def test_a_callback_after_the_recovery_reads_nothing_and_changes_nothing(w):
    w.reconciler.check(w.job.id)
    with pytest.raises(AlreadyRecovered):
        w.processor.handle(w.callback())
    assert w.leonardo.gets == [w.job.generation_id]  # the reconciler's poll only
    assert w.outputs.fetched == []
    assert w.store.get(w.job.id).status == JobStatus.SUBMITTED


def test_the_reconcilers_event_then_finishes_the_job_with_one_copy_of_each_output(w):
    w.reconciler.check(w.job.id)
    with pytest.raises(AlreadyRecovered):
        w.processor.handle(w.callback())
    assert w.processor.handle(w.events.sent[0]) == "completed"
    assert w.store.get(w.job.id).status == JobStatus.COMPLETE
    assert len(w.outputs.fetched) == 2 and w.leonardo.gets == [w.job.generation_id]


def test_a_callback_for_a_job_not_recovered_reads_leonardos_record(w):
    assert w.processor.handle(w.callback()) == "completed"
    assert w.leonardo.gets == [w.job.generation_id]
    assert w.store.get(w.job.id).recovered_at is None
