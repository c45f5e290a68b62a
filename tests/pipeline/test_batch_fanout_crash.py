"""The fan-out's checkpoint under crashes: a batch worker that dies before or after a chunk's write,
or runs out of time, is followed by another run that neither loses nor duplicates an item."""

from __future__ import annotations

from collections import Counter

import pytest

from gencore.adapters.batch_store import DynamoBatchStore
from tests.pipeline.test_batches import create, get, items, results


class Crash(Exception):
    pass


def crash_on(monkeypatch, call: int, *, after_commit: bool) -> list[int]:
    """Make the `call`-th checkpointed write of the fan-out crash (before, or after it committed)."""
    calls = [0]
    original = DynamoBatchStore.add_items

    def add_items(self, batch, jobs, *, now):
        calls[0] += 1
        if calls[0] == call and not after_commit:
            raise Crash("the worker died before the chunk's write")
        written = original(self, batch, jobs, now=now)
        if calls[0] == call:
            raise Crash("the worker died after the chunk's write committed")
        return written

    monkeypatch.setattr(DynamoBatchStore, "add_items", add_items)
    return calls


def assert_each_item_once(pipeline, batch_id: str, expected: int) -> None:
    lines = results(pipeline, batch_id)
    assert [line["line"] for line in lines] == list(range(1, expected + 1))
    assert len({line["job_id"] for line in lines}) == expected
    batch = get(pipeline, batch_id)
    assert batch["created"] == expected
    assert sum(batch["counts"].values()) == expected  # the counters agree with the items


@pytest.mark.parametrize("after_commit", [False, True], ids=["before-write", "after-write"])
def test_a_crash_mid_fan_out_resumes_from_the_checkpoint(pipeline, monkeypatch, after_commit):
    batch = create(pipeline, {"items": items(110)})  # five chunks
    with monkeypatch.context() as patched:
        crash_on(patched, 3, after_commit=after_commit)
        pipeline.drain("BatchQueue", "BatchFunction")  # the message fails: it stays on the queue
    made = get(pipeline, batch["id"])["created"]
    assert made == (75 if after_commit else 50)
    pipeline.expire_visibility("BatchQueue")  # SQS delivers it again
    pipeline.drain("BatchQueue", "BatchFunction")
    assert_each_item_once(pipeline, batch["id"], 110)
    assert get(pipeline, batch["id"])["credits"]["reserved"] == batch["credits"]["reserved"]


def test_two_workers_on_one_batch_make_each_item_once(pipeline):
    """A duplicate delivery: two runs of the same fan-out (one after the other's first chunk)."""
    from gencore import wiring

    batch = create(pipeline, {"items": items(60)})
    worker = wiring.batch_worker()
    times = iter([100.0, 1.0])  # the first run stops after two chunks, sending itself on
    assert worker.fan_out(batch["id"], remaining=lambda: next(times, 1.0)) == "continued"
    assert worker.fan_out(batch["id"]) == "fanned_out"
    assert worker.fan_out(batch["id"]) == "done"  # the resent message finds nothing left to make
    assert_each_item_once(pipeline, batch["id"], 60)
    ids = Counter(line["job_id"] for line in results(pipeline, batch["id"]))
    assert max(ids.values()) == 1


@pytest.mark.parametrize(
    "body",
    [
        '{"batch_id": "b"',
        '{"batch_id": "b", "action": "explode"}',
        '{"action": "fan_out"}',
        '{"batch_id": "b", "x": 1}',
    ],
    ids=["not json", "unknown action", "no batch id", "unknown field"],
)
def test_a_malformed_batch_message_fails_alone_and_stays_on_the_queue(pipeline, body):
    """Only that record is reported failed (SQS then retries it and parks it in BatchDLQ); a good
    message in the same delivery is handled."""
    batch = create(pipeline, {"items": items(3)})
    pipeline.sqs.send_message(QueueUrl=pipeline.queues["BatchQueue"], MessageBody=body)
    (response,) = pipeline.drain("BatchQueue", "BatchFunction")
    assert len(response["batchItemFailures"]) == 1
    assert len(pipeline.failed_handles["BatchQueue"]) == 1
    assert get(pipeline, batch["id"])["created"] == 3  # the good message in the same delivery ran
