"""Completion events on moto (docs/events.md): the event is written with the job's end in one
transaction, published at once on the stack's bus, and a crash between the two still yields it,
from the reconciler's safety net, with the same id."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gencore import wiring
from gencore.adapters.ddb import plain_item
from gencore.adapters.dynamo import DynamoJobStore
from gencore.adapters.outbox import outbox_key
from gencore.domain.errors import TransitionConflict
from gencore.domain.events import SAFETY_NET_DELAY_SECONDS
from gencore.domain.models import Job, JobStatus
from stackrunner.bus import tap_bus

from .test_generation_flow import callback_for, submit_one

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class RecordingClient:
    """The DynamoDB client, with every TransactWriteItems call kept."""

    def __init__(self, client) -> None:
        self._client, self.transactions = client, []

    def transact_write_items(self, **request):
        self.transactions.append(request["TransactItems"])
        return self._client.transact_write_items(**request)

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.fixture
def bus(pipeline):
    """What the stack's bus carried: a rule sending every event to a queue read here."""
    events, sqs = pipeline.stack.aws.client("events"), pipeline.sqs
    url = tap_bus(events, sqs, pipeline.stack.env["EVENT_BUS_NAME"], f"tap-{uuid.uuid4().hex[:8]}")

    def carried() -> list[dict]:
        found = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            found += [json.loads(m["Body"]) for m in messages]
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return found

    return carried


def _outbox_item(pipeline, event_id: str) -> dict | None:
    table = pipeline.stack.env["JOBS_TABLE"]
    item = pipeline.ddb.get_item(TableName=table, Key=outbox_key(event_id), ConsistentRead=True).get("Item")
    return plain_item(item) if item else None


def _queued_job(store: DynamoJobStore) -> Job:
    job = Job(id=str(uuid.uuid4()), user_id="alice", status=JobStatus.QUEUED, request={"prompt": "a cat"},
              created_at=NOW, updated_at=NOW, due_at=int(NOW.timestamp()) + 60)  # fmt: skip
    assert store.create(job, dedupe_key=f"k-{job.id}", dedupe_expires_at=int(NOW.timestamp()) + 60) is None
    return job


def test_the_write_that_ends_a_job_puts_its_event_in_the_same_transaction(pipeline):
    recording = RecordingClient(pipeline.ddb)
    store = DynamoJobStore(recording, pipeline.stack.env["JOBS_TABLE"])
    job = _queued_job(store)

    store.cancel(job, now=NOW + timedelta(seconds=5))

    [items] = recording.transactions[-1:]
    keys = [(i.get("Update") or i.get("Put"))["Key" if "Update" in i else "Item"]["pk"]["S"] for i in items]
    assert keys[0] == f"JOB#{job.id}" and f"OUTBOX#{job.id}:CANCELLED" in keys
    item = _outbox_item(pipeline, f"{job.id}:CANCELLED")
    assert item["detail_type"] == "Generation Cancelled" and item["due_pk"].startswith("OUTBOX#")
    assert item["due_at"] == int((NOW + timedelta(seconds=5 + SAFETY_NET_DELAY_SECONDS)).timestamp())
    assert json.loads(item["detail"])["job_id"] == job.id


def test_a_write_that_loses_its_race_leaves_no_event(pipeline):
    store = DynamoJobStore(pipeline.ddb, pipeline.stack.env["JOBS_TABLE"])
    job = _queued_job(store)
    store.transition(job, JobStatus.FAILED, now=NOW, error_code="expired_in_queue")

    with pytest.raises(TransitionConflict):
        store.cancel(job, now=NOW)  # read while QUEUED: the transaction is refused, outbox item and all

    assert _outbox_item(pipeline, f"{job.id}:CANCELLED") is None
    assert _outbox_item(pipeline, f"{job.id}:FAILED") is not None


def test_a_completed_job_is_published_at_once_on_the_stacks_bus(pipeline, bus):
    item = submit_one(pipeline)
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    pipeline.drain("EventsQueue", "ProcessorFunction")

    [event] = bus()

    assert (event["source"], event["detail-type"]) == ("leonardo-backend", "Generation Completed")
    detail = event["detail"]
    assert detail["event_id"] == f"{item['id']}:COMPLETE" and detail["version"] == "1"
    assert sorted(detail["output_keys"]) == sorted(pipeline.outputs(f"outputs/alice/{item['id']}/"))
    stored = _outbox_item(pipeline, detail["event_id"])
    assert (
        "due_pk" not in stored and stored["expires_at"] > datetime.now(UTC).timestamp()
    )  # published, expiring
    assert pipeline.reconcile()["events"] == {"published": 0, "failed": 0}  # nothing left pending


def test_a_crash_before_the_publish_still_yields_the_event_with_the_same_id(pipeline, bus, monkeypatch):
    # Given the processor dies right after its write: the fast path never runs.
    monkeypatch.setattr(wiring, "publish_now", lambda event: None)
    item = submit_one(pipeline)
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    pipeline.drain("EventsQueue", "ProcessorFunction")
    assert bus() == [] and "due_pk" in _outbox_item(pipeline, f"{item['id']}:COMPLETE")

    # When the reconciler runs once the writer's head start is over.
    later = datetime.now(UTC) + timedelta(seconds=SAFETY_NET_DELAY_SECONDS + 1)
    monkeypatch.setattr(wiring, "clock", lambda: later)
    wiring.reset()
    assert pipeline.reconcile()["events"] == {"published": 1, "failed": 0}

    # Then the event is on the bus, with the job's event id, and no longer pending.
    [event] = bus()
    assert event["detail-type"] == "Generation Completed"
    assert event["detail"]["event_id"] == f"{item['id']}:COMPLETE"
    assert "due_pk" not in _outbox_item(pipeline, f"{item['id']}:COMPLETE")


def test_a_repeat_carries_the_same_id_and_detail(pipeline, bus, monkeypatch):
    item = submit_one(pipeline)
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    pipeline.drain("EventsQueue", "ProcessorFunction")
    event_id = f"{item['id']}:COMPLETE"
    # The publish succeeded but marking it published was lost: the item is pending again.
    table = pipeline.stack.env["JOBS_TABLE"]
    pipeline.ddb.update_item(
        TableName=table, Key=outbox_key(event_id), UpdateExpression="SET due_pk = :p, due_at = :at",
        ExpressionAttributeValues={":p": {"S": "OUTBOX#0"}, ":at": {"N": "0"}},
    )  # fmt: skip

    pipeline.reconcile()

    first, repeat = bus()
    assert first["detail"]["event_id"] == repeat["detail"]["event_id"] == event_id
    assert first["detail"] == repeat["detail"] and first["detail-type"] == repeat["detail-type"]
