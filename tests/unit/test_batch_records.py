"""The batch record, read as a specification (domain/batch_records.py): how long a batch still has
to run at the rate its items have ended (`eta_seconds`), which status ends it, and the items file's
line (`item_line`): everything an item's job needs, decided once at accept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gencore.domain.batch_records import Batch, BatchStatus, item_line, items_key, new_batch_id
from gencore.domain.models import JobStatus

pytestmark = pytest.mark.unit
T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def batch(**fields) -> Batch:
    base = {"id": "b-1", "user_id": "alice", "items": 50, "items_key": "k", "created_at": T0,
            "updated_at": T0}  # fmt: skip
    return Batch.model_validate(base | fields)


def started(**fields) -> Batch:
    return batch(started_at=T0, **fields)


# --- eta_seconds ---------------------------------------------------------------------------------


def test_the_eta_is_the_items_left_at_the_rate_items_have_ended_so_far():
    running = started(created=30, done=10)  # 10 ended in 100 s; 40 of the 50 still to end
    assert running.eta_seconds(T0 + timedelta(seconds=100)) == 400


def test_once_no_more_items_will_be_made_the_eta_counts_only_the_items_made():
    cut_short = started(created=30, done=10, fanned_out=True, status=BatchStatus.CANCELLING)
    assert cut_short.eta_seconds(T0 + timedelta(seconds=100)) == 200


def test_the_eta_is_rounded_to_whole_seconds():
    assert started(items=4, created=4, done=3).eta_seconds(T0 + timedelta(seconds=10)) == 3  # 3.33 s


def test_every_item_ended_is_an_eta_of_zero_until_the_batch_is_marked_ended():
    assert started(created=50, done=50, fanned_out=True).eta_seconds(T0 + timedelta(seconds=60)) == 0


@pytest.mark.parametrize(
    ("record", "seconds"),
    [
        (batch(created=10, done=0), 60),  # not started
        (started(created=10, done=0), 60),  # started, nothing ended yet: no rate
        (started(created=10, done=5), 0),  # no time has passed
        (started(created=10, done=5), -5),  # a clock behind the start
        (started(created=50, done=50, fanned_out=True, status=BatchStatus.COMPLETE), 60),
        (started(created=20, done=20, fanned_out=True, status=BatchStatus.CANCELLED), 60),
    ],
    ids=["not-started", "no-rate", "no-time", "clock-behind", "complete", "cancelled"],
)
def test_there_is_no_eta_without_a_rate_or_once_the_batch_ended(record, seconds):
    assert record.eta_seconds(T0 + timedelta(seconds=seconds)) is None


# --- status and counts ---------------------------------------------------------------------------


def test_complete_and_cancelled_end_a_batch_running_and_cancelling_do_not():
    assert [status for status in BatchStatus if status.ended] == [BatchStatus.COMPLETE, BatchStatus.CANCELLED]


def test_items_are_counted_per_job_status_and_a_status_without_items_counts_none():
    record = batch(counts={"QUEUED": 3, "COMPLETE": 2})
    assert [record.count(s) for s in (JobStatus.QUEUED, JobStatus.COMPLETE, JobStatus.FAILED)] == [3, 2, 0]


def test_a_new_batch_is_running_with_nothing_made_and_nothing_reserved():
    record = batch()
    assert record.status == BatchStatus.RUNNING and not record.fanned_out
    assert (record.created, record.done, record.started_at) == (0, 0, None)
    assert (record.reserved, record.spent, record.unassigned, record.charge) == ("0", "0", "0", None)


def test_a_batchs_items_file_is_kept_under_its_user_and_its_id():
    assert items_key("alice", "b-1") == "batches/alice/b-1/items.jsonl"
    assert new_batch_id() != new_batch_id()


# --- item_line -----------------------------------------------------------------------------------


def line(**fields):
    base = {"line": 3, "custom_id": "fox-3", "kind": "edit", "request": {"prompt": "a fox", "num_images": 2},
            "source": {"job_id": "j-1", "index": 0}, "seed": 42, "estimate": Decimal("1.50"),
            "model_name": "Phoenix"}  # fmt: skip
    return item_line(**(base | fields))


def test_an_item_line_keeps_everything_its_job_needs():
    assert line() == {
        "line": 3, "custom_id": "fox-3", "kind": "edit", "request": {"prompt": "a fox", "num_images": 2},
        "source": {"job_id": "j-1", "index": 0}, "seed": 42, "estimate": "1.5", "model_name": "Phoenix",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("amount", "text"),
    [(Decimal("2.500"), "2.5"), (Decimal("10"), "10"), (Decimal("1E+2"), "100"), (Decimal("0.00"), "0")],
)
def test_an_item_lines_estimate_is_a_plain_decimal_string(amount, text):
    assert line(estimate=amount)["estimate"] == text


def test_an_item_without_an_estimate_or_a_source_or_a_model_name_says_so():
    bare = line(estimate=None, source=None, model_name=None)
    assert (bare["estimate"], bare["source"], bare["model_name"]) == (None, None, None)


def test_an_item_line_is_one_json_object_that_reads_back_the_same():
    assert json.loads(json.dumps(line(), separators=(",", ":"))) == line()
