"""The batch worker, read as a specification (domain/fanout.py, `BatchWorker`): it makes a batch's
items from its items file in checkpointed chunks, from the checkpoint on, each item a job parked in
the waiting line carrying its batch, plan, deadline and its share of the batch's reservation; it
sends itself on near its time limit, gives way to another run or a cancel; it cancels or expires the
items still waiting; and the reconciler's check resends what was lost and ends what is done.

The worker runs on in-memory fakes of its ports (tests/support/batch_fakes.py) and of the job store
(tests/support/fakes.py), with the real waiting line (domain/waiting.py)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gencore.domain.batch_records import Batch, BatchStatus, item_line, items_key
from gencore.domain.batches import item_job_id
from gencore.domain.events import BATCH_COMPLETED
from gencore.domain.fanout import CHECK_EVERY_SECONDS, CHUNK, DEADLINE_MESSAGE, STALLED_SECONDS, BatchWorker
from gencore.domain.ledger import reserve
from gencore.domain.models import BatchItemRef, JobStatus
from gencore.domain.policy import Policy, epoch
from gencore.domain.waiting import Waker, expiry_of
from tests.support.batch_fakes import FakeBatchFiles, FakeBatchQueue, FakeBatchStore
from tests.support.fakes import FakeClock, FakeJobStore, FakeSubmitQueue, make_job

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 4, 23, 59, tzinfo=UTC)  # a minute before midnight: items made after it
DAY, MONTH = "2026-12-04", "2026-12"
ESTIMATE = Decimal(2)  # each item's
POLICY = Policy(max_in_flight=3)


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(NOW)
        self.jobs = FakeJobStore()
        self.store = FakeBatchStore(self.jobs)
        self.files, self.queue, self.submits = FakeBatchFiles(), FakeBatchQueue(), FakeSubmitQueue()
        self.waker = Waker(self.jobs, self.submits, self.clock, POLICY)
        self.worker = BatchWorker(
            self.store, self.files, self.queue, self.jobs, self.waker, self.clock, POLICY
        )

    def batch(self, items: int, *, deadline_at: int | None = None, charge: bool = True) -> Batch:
        """A batch as accepted: its items file written and its whole estimate reserved."""
        batch_id = f"batch-{len(self.store.batches) + 1}"
        key = items_key("alice", batch_id)
        self.files.write_lines(key, [
            json.dumps(item_line(
                line=n, custom_id=f"item-{n}", kind="text_to_image", request={"prompt": f"fox {n}"},
                source=None, seed=n, estimate=ESTIMATE if charge else None, model_name="Phoenix",
            ))
            for n in range(1, items + 1)
        ])  # fmt: skip
        total = ESTIMATE * items if charge else Decimal(0)
        batch = Batch(
            id=batch_id, user_id="alice", plan="pro", items=items, items_key=key, deadline_at=deadline_at,
            charge=reserve(total, "CREDITS", NOW) if charge else None, reserved=str(total),
            unassigned=str(total), created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        assert self.store.create_batch(batch, dedupe_key=None, dedupe_expires_at=0, budget=None) is None
        return batch

    def read(self, batch: Batch) -> Batch:
        current = self.store.get_batch(batch.id)
        assert current is not None
        return current

    def reserved(self) -> Decimal:
        return self.jobs.spent("alice", "day", DAY).reserved

    def statuses(self, batch: Batch) -> list[JobStatus]:
        return [job.status for job in self.store.item_jobs(batch.id)]


@pytest.fixture
def world() -> World:
    return World()


def running_out(after_calls: int):
    """A run's `remaining`: plenty for its first `after_calls` looks, then almost nothing."""
    calls = iter(range(10**6))
    return lambda: 600.0 if next(calls) < after_calls else 1.0


# --- fan-out ---------------------------------------------------------------------------------------


def test_the_fan_out_makes_one_waiting_job_per_item_in_line_order_a_chunk_per_write(world):
    batch = world.batch(2 * CHUNK + 3)
    assert world.worker.handle(batch.id, "fan_out") == "fanned_out"
    assert world.store.add_items_calls == [CHUNK, CHUNK, 3]
    made = world.store.item_jobs(batch.id)
    assert [job.batch.custom_id for job in made] == [f"item-{n}" for n in range(1, 2 * CHUNK + 4)]
    assert all(job.status == JobStatus.QUEUED for job in made)
    after = world.read(batch)
    assert after.created == after.count(JobStatus.QUEUED) == 2 * CHUNK + 3 and after.fanned_out


def test_each_item_is_a_job_of_its_batch_with_its_plan_deadline_and_a_share_of_the_reservation(world):
    batch = world.batch(1, deadline_at=epoch(NOW) + 3600)
    world.clock.advance(120)  # the items are made tomorrow: their charge stays in the batch's periods
    world.worker.fan_out(batch.id)
    [job] = world.store.item_jobs(batch.id)
    assert job.id == item_job_id(batch.id, "item-1") and job.user_id == "alice"
    assert job.batch == BatchItemRef(batch_id=batch.id, custom_id="item-1", line=1)
    assert (job.kind, job.request, job.source, job.model_name, job.leonardo_seed) == (
        "text_to_image", {"prompt": "fox 1"}, None, "Phoenix", 1,
    )  # fmt: skip
    assert (job.plan, job.queue_deadline, job.waiting_counted) == ("pro", epoch(NOW) + 3600, False)
    assert job.charge is not None
    assert (job.charge.state, job.charge.estimate, job.charge.day, job.charge.month) == (
        "reserved", "2", DAY, MONTH,
    )  # fmt: skip
    assert job.created_at == NOW + timedelta(seconds=120)


def test_items_take_their_estimates_from_the_batchs_reservation_so_the_ledger_does_not_move(world):
    batch = world.batch(3)
    assert world.reserved() == 6
    world.worker.fan_out(batch.id)
    assert world.reserved() == 6 and world.read(batch).unassigned == "0"


def test_items_of_a_batch_without_plans_carry_no_charge(world):
    batch = world.batch(2, charge=False)
    world.worker.fan_out(batch.id)
    assert [job.charge for job in world.store.item_jobs(batch.id)] == [None, None]


def test_items_wait_in_line_at_their_users_turns_in_line_order(world):
    world.jobs.slots = POLICY.max_in_flight  # nothing free at Leonardo: none is woken
    batch = world.batch(2 * CHUNK)
    world.worker.fan_out(batch.id)
    made = world.store.item_jobs(batch.id)
    turns = [job.line_turn for job in made]
    assert turns == list(range(turns[0], turns[0] + 2 * CHUNK))
    assert world.jobs.line() == [job.id for job in made] and world.submits.sent == []


def test_a_runs_first_chunk_wakes_as_many_items_as_slots_are_free_and_later_chunks_none(world):
    world.jobs.slots = 1  # one job of someone's at Leonardo: two of three slots free
    batch = world.batch(3 * CHUNK)
    assert world.worker.fan_out(batch.id, remaining=running_out(1)) == "continued"  # two chunks made
    woken = [job_id for job_id, _ in world.submits.sent]
    assert woken == [item_job_id(batch.id, f"item-{n}") for n in (1, 2)]
    world.worker.fan_out(batch.id)  # the next run: its first chunk wakes the free slots again
    woken = [job_id for job_id, _ in world.submits.sent]
    assert woken == [item_job_id(batch.id, f"item-{n}") for n in (1, 2, 3, 4)]


def test_a_run_near_its_time_limit_sends_itself_on_and_the_next_goes_on_from_the_checkpoint(world):
    batch = world.batch(2 * CHUNK + 3)
    assert world.worker.fan_out(batch.id, remaining=running_out(1)) == "continued"
    assert world.queue.sent == [(batch.id, "fan_out")] and world.read(batch).created == 2 * CHUNK
    assert world.worker.handle(batch.id, "fan_out", remaining=lambda: 600.0) == "fanned_out"
    made = world.store.item_jobs(batch.id)
    assert len(made) == 2 * CHUNK + 3 == len({job.id for job in made}) == world.read(batch).created
    assert world.store.add_items_calls == [CHUNK, CHUNK, 3]


def test_a_run_that_made_the_last_chunk_ends_the_fan_out_however_little_time_is_left(world):
    batch = world.batch(CHUNK)
    assert world.worker.fan_out(batch.id, remaining=lambda: 0.0) == "fanned_out"
    assert world.queue.sent == [] and world.read(batch).fanned_out


def test_a_run_overtaken_by_another_gives_way_and_writes_nothing_more(world):
    batch = world.batch(2 * CHUNK)
    world.worker.fan_out(batch.id, remaining=running_out(0))  # the first chunk made, then sent on
    before = world.read(batch)
    others = world.store.batches

    def another_run_moves_on(name, read):
        if name == "add_items":
            others[read.id] = others[read.id].model_copy(update={"created": read.created + CHUNK})

    world.store.before_write = another_run_moves_on
    assert world.worker.fan_out(batch.id) == "superseded"
    after = world.read(batch)
    assert len(world.store.item_jobs(batch.id)) == CHUNK and not after.fanned_out
    assert after.unassigned == before.unassigned and world.store.add_items_calls == [CHUNK]


def test_two_runs_of_one_fan_out_make_each_item_once(world):
    batch = world.batch(3 * CHUNK)
    second_run: list[str] = []

    def the_other_run_goes_first(name, read):
        if name == "add_items" and not second_run:
            second_run.append("running")
            second_run.append(world.worker.fan_out(batch.id))  # reads the same checkpoint, writes first

    world.store.before_write = the_other_run_goes_first
    assert world.worker.fan_out(batch.id) == "superseded" and second_run == ["running", "fanned_out"]
    made = world.store.item_jobs(batch.id)
    assert len(made) == 3 * CHUNK == len({job.id for job in made}) == world.read(batch).created


def test_a_batch_cancelled_during_its_fan_out_makes_no_more_items(world):
    batch = world.batch(2 * CHUNK)
    world.worker.fan_out(batch.id, remaining=running_out(0))

    def cancelled(name, read):
        world.store.batches[read.id] = world.store.batches[read.id].model_copy(
            update={"status": BatchStatus.CANCELLING}
        )

    world.store.before_write = cancelled
    assert world.worker.fan_out(batch.id) == "superseded"
    assert len(world.store.item_jobs(batch.id)) == CHUNK


def test_the_fan_out_of_a_cancelled_batch_makes_nothing_releases_its_reservation_and_ends_it(world):
    batch = world.batch(3)
    world.store.set_status(batch, BatchStatus.CANCELLING, now=NOW)
    assert world.worker.fan_out(batch.id) == "fanned_out"
    after = world.read(batch)
    assert world.store.item_jobs(batch.id) == [] and (after.fanned_out, after.reserved) == (True, "0")
    assert after.status == BatchStatus.CANCELLED and world.reserved() == 0


def test_a_fan_out_asked_for_again_once_done_only_tries_to_finish_the_batch(world):
    batch = world.batch(1)
    world.worker.fan_out(batch.id)
    assert world.worker.fan_out(batch.id) == "done"
    assert world.store.add_items_calls == [1] and world.worker.fan_out("no-such-batch") == "missing"


def test_a_batch_ends_complete_with_its_event_once_every_item_has_ended(world):
    batch = world.batch(2)
    world.worker.fan_out(batch.id)
    for job in world.store.item_jobs(batch.id):
        world.jobs.transition(job, JobStatus.FAILED, now=world.clock(), error_code="x", error_message="x")
    assert world.worker.check(batch.id) == "checked"
    after = world.read(batch)
    assert after.status == BatchStatus.COMPLETE and after.finished_at == NOW
    [event] = [e for e in world.jobs.outbox.events.values() if e.detail_type == BATCH_COMPLETED]
    assert event.detail["batch_id"] == batch.id and event.detail["counts"]["FAILED"] == 2


# --- cancel and deadline ---------------------------------------------------------------------------


def test_cancel_cancels_the_waiting_items_and_releases_their_reservations(world):
    batch = world.batch(3)
    world.worker.fan_out(batch.id)
    world.store.set_status(world.read(batch), BatchStatus.CANCELLING, now=NOW)
    assert world.worker.handle(batch.id, "cancel") == "ended"
    assert world.statuses(batch) == [JobStatus.CANCELLED] * 3 and world.reserved() == 0
    assert world.read(batch).status == BatchStatus.CANCELLED


def test_cancel_leaves_items_a_submitter_holds_and_the_batch_ends_when_they_do(world):
    batch = world.batch(3)
    world.worker.fan_out(batch.id)
    held, submitted, _ = world.store.item_jobs(batch.id)
    world.jobs.jobs[held.id] = held.model_copy(update={"slot_held": True})
    world.jobs.jobs[submitted.id] = submitted.model_copy(
        update={"status": JobStatus.SUBMITTED, "generation_id": "gen-1", "slot_held": True}
    )
    world.store.set_status(world.read(batch), BatchStatus.CANCELLING, now=NOW)
    assert world.worker.end_waiting(batch.id, expire=False) == "ended"
    assert world.statuses(batch) == [JobStatus.QUEUED, JobStatus.SUBMITTED, JobStatus.CANCELLED]
    assert world.read(batch).status == BatchStatus.CANCELLING  # two items still to end


def test_cancel_before_the_fan_out_ended_makes_no_more_items_and_releases_the_rest(world):
    batch = world.batch(2 * CHUNK)
    world.worker.fan_out(batch.id, remaining=running_out(0))  # one chunk made
    world.store.set_status(world.read(batch), BatchStatus.CANCELLING, now=NOW)
    world.worker.end_waiting(batch.id, expire=False)
    after = world.read(batch)
    assert after.fanned_out and after.created == CHUNK and after.status == BatchStatus.CANCELLED
    assert world.reserved() == 0


@pytest.mark.parametrize("head_start", [0, 1, 3, 8])
def test_a_cancel_racing_the_fan_out_leaves_every_item_made_cancelled_and_nothing_reserved(head_start):
    world = World()
    batch = world.batch(12 * CHUNK)
    chunks_written = threading.Semaphore(0)

    def a_write_takes_a_moment(name, read):
        if name == "add_items":
            chunks_written.release()
            time.sleep(0.001)

    world.store.before_write = a_write_takes_a_moment
    fan_out = threading.Thread(target=world.worker.fan_out, args=(batch.id,))
    fan_out.start()
    for _ in range(head_start):
        chunks_written.acquire(timeout=5)
    world.store.set_status(world.read(batch), BatchStatus.CANCELLING, now=NOW)  # the API's cancel
    world.worker.end_waiting(batch.id, expire=False)  # its message, while the fan-out may still run
    fan_out.join(timeout=10)
    after = world.read(batch)
    assert after.status == BatchStatus.CANCELLED and after.fanned_out and not fan_out.is_alive()
    assert world.statuses(batch) == [JobStatus.CANCELLED] * after.created and world.reserved() == 0


def test_past_the_deadline_the_waiting_items_fail_batch_deadline_exceeded(world):
    batch = world.batch(2, deadline_at=epoch(NOW) + 60)
    world.worker.fan_out(batch.id)
    world.clock.advance(61)
    assert world.worker.handle(batch.id, "expire") == "ended"
    made = world.store.item_jobs(batch.id)
    assert [(j.status, j.error_code, j.error_message) for j in made] == [
        (JobStatus.FAILED, "batch_deadline_exceeded", DEADLINE_MESSAGE)
    ] * 2
    assert world.reserved() == 0 and world.read(batch).status == BatchStatus.COMPLETE


def test_a_batch_whose_deadline_passes_mid_fan_out_still_ends_with_nothing_reserved(world):
    world.jobs.slots = POLICY.max_in_flight  # nothing starts: every item waits past the deadline
    batch = world.batch(3 * CHUNK, deadline_at=epoch(NOW) + 60)
    world.worker.fan_out(batch.id, remaining=running_out(0))  # one chunk made, then sent on
    world.clock.advance(61)
    for _ in range(5):  # the worker takes each message sent; the reconciler checks every minute
        while world.queue.sent:
            world.worker.handle(*world.queue.sent.pop(0))
        world.worker.check_due()
        world.clock.advance(CHECK_EVERY_SECONDS)
    made = world.store.item_jobs(batch.id)
    assert world.read(batch).status == BatchStatus.COMPLETE and world.reserved() == 0
    assert {(job.status, job.error_code) for job in made} == {(JobStatus.FAILED, "batch_deadline_exceeded")}


def test_ending_many_waiting_items_sends_itself_on_when_time_is_short(world):
    batch = world.batch(150)
    world.worker.fan_out(batch.id)
    world.store.set_status(world.read(batch), BatchStatus.CANCELLING, now=NOW)
    assert world.worker.end_waiting(batch.id, expire=False, remaining=lambda: 1.0) == "continued"
    assert world.queue.sent == [(batch.id, "cancel")]
    assert world.statuses(batch).count(JobStatus.CANCELLED) == 100
    assert world.worker.end_waiting(batch.id, expire=False) == "ended"
    assert world.statuses(batch) == [JobStatus.CANCELLED] * 150


def test_expiring_sends_itself_on_as_an_expiry(world):
    batch = world.batch(150, deadline_at=epoch(NOW))
    world.worker.fan_out(batch.id)
    world.clock.advance(1)
    assert world.worker.end_waiting(batch.id, expire=True, remaining=lambda: 1.0) == "continued"
    assert world.queue.sent == [(batch.id, "expire")]


def test_ending_the_items_of_an_unknown_batch_finds_nothing(world):
    assert world.worker.end_waiting("no-such-batch", expire=True) == "missing"


def test_an_unknown_action_is_refused(world):
    with pytest.raises(ValueError, match="unknown batch action"):
        world.worker.handle("b", "explode")


def test_an_item_past_its_batchs_deadline_fails_when_its_turn_comes_instead_of_being_woken(world):
    batch = world.batch(1, deadline_at=epoch(NOW) + 60)
    world.jobs.slots = POLICY.max_in_flight  # no slot free while it is made
    world.worker.fan_out(batch.id)
    world.clock.advance(61)
    world.jobs.slots = 0
    assert world.waker.wake(1) == 0 and world.submits.sent == []
    [job] = world.store.item_jobs(batch.id)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "batch_deadline_exceeded")


def test_an_item_of_a_batch_without_a_deadline_waits_as_long_as_it_takes(world):
    batch = world.batch(1)
    world.jobs.slots = POLICY.max_in_flight
    world.worker.fan_out(batch.id)
    world.clock.advance(30 * 24 * 3600)
    world.jobs.slots = 0
    assert world.waker.wake(1) == 1 and world.submits.sent[0][0] == item_job_id(batch.id, "item-1")


def test_a_batch_item_fails_batch_deadline_exceeded_and_any_other_job_expired_in_queue():
    item = make_job(JobStatus.QUEUED, batch={"batch_id": "b", "custom_id": "c", "line": 1})
    assert expiry_of(item) == ("batch_deadline_exceeded", DEADLINE_MESSAGE)
    assert expiry_of(make_job(JobStatus.QUEUED))[0] == "expired_in_queue"


# --- the reconciler's check ------------------------------------------------------------------------


def test_the_check_of_a_cancelling_batch_resends_its_cancel(world):
    batch = world.batch(1)
    world.store.set_status(batch, BatchStatus.CANCELLING, now=NOW)
    assert world.worker.check(batch.id) == "cancel_resent"
    assert world.queue.sent == [(batch.id, "cancel")]


def test_the_check_resends_a_fan_out_whose_checkpoint_has_not_moved_for_too_long(world):
    batch = world.batch(2 * CHUNK)
    world.worker.fan_out(batch.id, remaining=running_out(0))  # sent on; that message is lost
    world.queue.sent.clear()
    world.clock.advance(STALLED_SECONDS - 1)
    assert world.worker.check(batch.id) == "checked" and world.queue.sent == []
    world.clock.advance(1)
    assert world.worker.check(batch.id) == "fan_out_resent"
    assert world.queue.sent == [(batch.id, "fan_out")]


def test_the_check_sends_an_expiry_once_the_deadline_passed_with_items_waiting(world):
    batch = world.batch(1, deadline_at=epoch(NOW) + 60)
    world.worker.fan_out(batch.id)
    world.clock.advance(60)
    assert world.worker.check(batch.id) == "checked"
    world.clock.advance(1)
    assert world.worker.check(batch.id) == "expire_sent"
    assert world.queue.sent == [(batch.id, "expire")]


def test_the_check_sends_no_expiry_when_no_item_is_waiting(world):
    batch = world.batch(1, deadline_at=epoch(NOW) + 60)
    world.worker.fan_out(batch.id)
    [job] = world.store.item_jobs(batch.id)
    world.jobs.jobs[job.id] = job.model_copy(update={"status": JobStatus.SUBMITTED, "generation_id": "g"})
    world.clock.advance(61)
    assert world.worker.check(batch.id) == "checked" and world.queue.sent == []


def test_the_check_looks_again_later_at_a_batch_not_ended(world):
    batch = world.batch(1)
    world.worker.fan_out(batch.id)
    world.clock.advance(5)
    world.worker.check(batch.id)
    assert world.store.due[batch.id] == epoch(world.clock()) + CHECK_EVERY_SECONDS


def test_the_check_ends_a_batch_whose_finish_was_missed_and_does_not_look_again(world):
    batch = world.batch(1)
    world.worker.fan_out(batch.id)
    [job] = world.store.item_jobs(batch.id)
    world.jobs.jobs[job.id] = job.model_copy(update={"status": JobStatus.COMPLETE})
    assert world.worker.check(batch.id) == "checked"
    assert world.read(batch).status == BatchStatus.COMPLETE and batch.id not in world.store.due
    assert world.worker.check("no-such-batch") == "missing"


def test_the_reconcilers_run_checks_each_due_batch_counts_outcomes_and_survives_one_failing(world):
    cancelling, stalled, broken = world.batch(1), world.batch(1), world.batch(1)
    world.store.set_status(cancelling, BatchStatus.CANCELLING, now=NOW)
    world.clock.advance(STALLED_SECONDS)
    reads = world.store.get_batch

    def get_batch(batch_id):
        if batch_id == broken.id:
            raise ConnectionError("the table is unreachable")
        return reads(batch_id)

    world.store.get_batch = get_batch  # type: ignore[method-assign]
    assert world.worker.check_due() == {"cancel_resent": 1, "fan_out_resent": 1, "error": 1}
    assert sorted(world.queue.sent) == sorted([(cancelling.id, "cancel"), (stalled.id, "fan_out")])


def test_the_reconcilers_run_checks_only_batches_due(world):
    world.batch(1)
    assert world.worker.check_due() == {}
