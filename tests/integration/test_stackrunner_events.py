"""SQS event sources and schedules behave like Lambda's: batches, partial failures, redrive, ticks."""

import itertools
import json
from pathlib import Path

import pytest
from boto3.dynamodb.conditions import Key

from stackrunner.pollers import failed_ids
from stackrunner.schedules import scheduled_event
from stackrunner.template import ScheduleSource
from tests.fixtures.stack.harness import start_fixture_stack, wait_until

pytestmark = pytest.mark.integration

REPO_EVENTS = Path(__file__).resolve().parents[2] / "events"


def _repo_sample(name: str) -> dict:
    path = REPO_EVENTS / name
    if not path.is_file():
        pytest.skip(f"no events/{name} sample yet")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # 0.01 makes both fixture queues' visibility timeouts 1 s, so every retry takes about a second.
    stack = start_fixture_stack(tmp_path_factory.mktemp("jwt"), visibility_scale=0.01, schedule_interval=0.4)
    yield stack
    stack.stop()


def _attempts(stack, pk: str) -> list[dict]:
    import boto3

    table = boto3.resource(
        "dynamodb",
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).Table(stack.physical_ids["RecordsTable"])
    return table.query(KeyConditionExpression=Key("pk").eq(pk), ConsistentRead=True)["Items"]


def _receive_counts(stack, item_id: str, prefix: str = "attempt") -> set[str]:
    return {item["sk"] for item in _attempts(stack, f"{prefix}#{item_id}")}


def _dlq_ids(stack, dlq: str) -> set[str]:
    sqs = stack.boto3_client("sqs")
    messages = sqs.receive_message(
        QueueUrl=stack.physical_ids[dlq], MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
    ).get("Messages", [])
    return {json.loads(m["Body"])["id"] for m in messages}


def _send(stack, queue: str, *bodies: dict, **kwargs) -> None:
    sqs = stack.boto3_client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=stack.physical_ids[queue], MessageBody=json.dumps(body), **kwargs)


def _queue_depth(stack, queue: str) -> int:
    attrs = stack.boto3_client("sqs").get_queue_attributes(
        QueueUrl=stack.physical_ids[queue],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


# ----- Lambda's batch response rules, directly ---------------------------------------------------


@pytest.mark.parametrize(
    ("response", "kept"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b", "c"}),  # unknown id: whole batch
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b", "c"}),
        ({"batchItemFailures": [{"wrongKey": "a"}]}, {"a", "b", "c"}),
        ("not a dict", {"a", "b", "c"}),
    ],
)
def test_batch_item_failure_rules(response, kept):
    assert failed_ids(response, ["a", "b", "c"]) == kept


# ----- SQS --------------------------------------------------------------------------------------


def test_records_have_the_lambda_sqs_event_shape(stack):
    _send(
        stack,
        "WorkQueue",
        {"id": "shape-1"},
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "demo"}},
    )
    wait_until(lambda: _receive_counts(stack, "shape-1"))
    record = json.loads(_attempts(stack, "attempt#shape-1")[0]["record"])
    arn = stack.template.physical["WorkQueue"].attrs["Arn"]
    assert set(record) >= {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        arn,
        "us-east-1",
    )
    assert json.loads(record["body"]) == {"id": "shape-1"}
    assert set(record["attributes"]) >= {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "demo",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }


def test_records_have_the_keys_of_the_repo_sqs_samples(stack):
    reference = _repo_sample("processor-sqs.json")["Records"][0]
    _send(stack, "WorkQueue", {"id": "shape-2"})
    wait_until(lambda: _receive_counts(stack, "shape-2"))
    record = json.loads(_attempts(stack, "attempt#shape-2")[0]["record"])
    assert set(record) == set(reference)
    assert set(record["attributes"]) >= set(reference["attributes"])


def test_schedule_events_have_the_keys_of_the_repo_sample():
    reference = _repo_sample("reconciler-schedule.json")
    source = ScheduleSource("Fn", "EveryMinute", "ScheduleV2", "rate(1 minute)", 60)
    event = scheduled_event(source, "stack")
    assert set(event) == set(reference)
    assert (event["source"], event["detail-type"]) == (reference["source"], reference["detail-type"])


def test_partial_batch_failure_deletes_only_the_successes(stack):
    sqs = stack.boto3_client("sqs")
    entries = [
        {"Id": str(i), "MessageBody": json.dumps(body)}
        for i, body in enumerate(
            [{"id": "ok-1"}, {"id": "bad-1", "fail": True}, {"id": "ok-2"}, {"id": "ok-3"}]
        )
    ]
    sqs.send_message_batch(QueueUrl=stack.physical_ids["WorkQueue"], Entries=entries)
    # The failing record is retried until maxReceiveCount (3), then SQS moves it to the DLQ.
    wait_until(lambda: "bad-1" in _dlq_ids(stack, "WorkDLQ"), timeout=30)
    assert _receive_counts(stack, "bad-1") == {"1", "2", "3"}
    for ok in ("ok-1", "ok-2", "ok-3"):
        assert _receive_counts(stack, ok) == {"1"}, ok  # deleted after the first, partly failed, batch
    assert _dlq_ids(stack, "WorkDLQ") == {"bad-1"}
    wait_until(lambda: _queue_depth(stack, "WorkQueue") == 0)


def test_an_unknown_item_identifier_fails_the_whole_batch(stack):
    _send(stack, "WorkQueue", {"id": "bogus-1", "bogus": True})
    wait_until(lambda: "bogus-1" in _dlq_ids(stack, "WorkDLQ"), timeout=30)
    assert _receive_counts(stack, "bogus-1") == {"1", "2", "3"}


def test_a_crashed_invocation_is_redelivered_after_the_visibility_timeout(stack):
    stack.fail_invocations("CrashFunction", 1)
    _send(stack, "CrashQueue", {"id": "crash-once"})
    wait_until(lambda: _receive_counts(stack, "crash-once", "crash"), timeout=20)
    # The injected failure happened before the handler ran, so the handler first saw receive 2.
    assert _receive_counts(stack, "crash-once", "crash") == {"2"}
    wait_until(lambda: _queue_depth(stack, "CrashQueue") == 0)
    assert "crash-once" not in _dlq_ids(stack, "CrashDLQ")


def test_a_raising_consumer_ends_in_the_dlq_after_max_receive_count(stack):
    _send(stack, "CrashQueue", {"id": "boom-1", "explode": True})
    wait_until(lambda: "boom-1" in _dlq_ids(stack, "CrashDLQ"), timeout=20)
    assert _receive_counts(stack, "boom-1", "crash") == {"1", "2"}  # maxReceiveCount 2, then moto redrives
    assert _queue_depth(stack, "CrashQueue") == 0


def test_unknown_function_cannot_be_failed(stack):
    with pytest.raises(KeyError):
        stack.fail_invocations("NoSuchFunction", 1)


# ----- schedules --------------------------------------------------------------------------------


def test_schedules_tick_without_overlapping(stack):
    ticks = wait_until(lambda: len(items := _attempts(stack, "tick")) >= 3 and items, timeout=20)
    ticks.sort(key=lambda t: float(t["start"]))
    for earlier, later in itertools.pairwise(ticks):
        assert float(later["start"]) >= float(earlier["end"])
    events = [json.loads(t["event"]) for t in ticks]
    assert all(e["source"] == "aws.scheduler" and e["detail-type"] == "Scheduled Event" for e in events)
    # Only the enabled schedule runs; the disabled Nightly one never does.
    assert all(e["resources"][0].endswith("-Often") for e in events)


def test_direct_invocation_helper(stack):
    assert stack.invoke("EchoFunction", {"routeKey": "GET /shortcut"}) == {"shortcut": True}
