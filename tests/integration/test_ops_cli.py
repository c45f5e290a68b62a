"""The operations CLI (python -m ops) against moto's server on loopback, named as the local runner names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from gencore import wiring
from gencore.adapters.dynamo import DynamoJobStore
from gencore.domain.ledger import reserve
from gencore.domain.models import Cost, Job, JobStatus
from gencore.domain.spend import pseudonym
from ops import dlq
from ops.cli import main
from stackrunner.template import load_yaml

pytestmark = pytest.mark.integration

STACK = "opstest"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
LEONARDO_KEY = "3f9e4b2a-0c1d-4e5f-8a7b-6c5d4e3f2a1b"
WEBHOOK_KEY = "Zx81mQv0Lr7TnYp3Ws5Ku9Hj2Gb6Fd4Ca1Ee8Ri0Oo7Pl3"


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(endpoint):
    def client(service):
        return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)

    return client


@pytest.fixture
def queues(aws):
    """SubmitQueue/EventsQueue redriving into their DLQs after 5 receives, as the template declares."""
    sqs = aws("sqs")
    urls = {}
    for work, dead in (("SubmitQueue", "SubmitDLQ"), ("EventsQueue", "EventsDLQ")):
        urls[dead] = sqs.create_queue(QueueName=f"{STACK}-{dead}")["QueueUrl"]
        dead_arn = dlq._arn(sqs, urls[dead])
        redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 5})
        urls[work] = sqs.create_queue(QueueName=f"{STACK}-{work}", Attributes={"RedrivePolicy": redrive})[
            "QueueUrl"
        ]
    yield urls
    for url in urls.values():
        sqs.delete_queue(QueueUrl=url)


def _ops(endpoint, *args):
    return main([*args, "--local", "--endpoint-url", endpoint, "--stack-name", STACK])


def _bodies(sqs, url):
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [m["Body"] for m in messages.get("Messages", [])]


def _visible(sqs, url):
    return dlq.counts(sqs, url)["visible"]


def test_inspect_shows_count_id_receive_count_sent_time_and_a_redacted_preview(endpoint, aws, queues, capsys):
    # Given a parked submit message that carries secrets
    sqs = aws("sqs")
    body = {
        "job_id": "0b7c1e52-8f1a-4c1e-9a55-2f8d7e6c5b4a",
        "api_key": LEONARDO_KEY,
        "headers": {"Authorization": f"Bearer {WEBHOOK_KEY}"},
        "raw": f'{{"webhook_key": "{WEBHOOK_KEY}"}}',
        "url": "https://cdn.example.com/a.png?X-Amz-Signature=abcdef0123&X-Amz-Expires=60",
    }
    message_id = sqs.send_message(QueueUrl=queues["SubmitDLQ"], MessageBody=json.dumps(body))["MessageId"]

    # When an operator inspects the DLQ
    assert _ops(endpoint, "dlq", "inspect", "SubmitDLQ") == 0
    out = capsys.readouterr().out

    # Then the count, the message id, its receive count and sent time, and the job id are shown...
    assert "SubmitDLQ: 1 visible" in out
    assert message_id in out
    assert "received 1x" in out
    assert f"sent {datetime.now(UTC):%Y-%m-%d}" in out
    assert body["job_id"] in out
    # ...no secret is...
    assert LEONARDO_KEY not in out
    assert WEBHOOK_KEY not in out
    assert "abcdef0123" not in out
    assert "[REDACTED]" in out
    # ...and the message is still there, visible at once for the next look or the redrive.
    assert _visible(sqs, queues["SubmitDLQ"]) == 1


def test_inspect_redacts_secrets_in_a_body_that_is_not_json(endpoint, aws, queues, capsys):
    sqs = aws("sqs")
    text = f"callback failed: Authorization: Bearer {WEBHOOK_KEY} api_key={LEONARDO_KEY}&retry=1"
    sqs.send_message(QueueUrl=queues["EventsDLQ"], MessageBody=text)

    assert _ops(endpoint, "dlq", "inspect", "EventsDLQ") == 0

    out = capsys.readouterr().out
    assert "callback failed" in out
    assert WEBHOOK_KEY not in out
    assert LEONARDO_KEY not in out


def test_inspect_json_output_lists_each_message(endpoint, aws, queues, capsys):
    sqs = aws("sqs")
    for n in range(3):
        sqs.send_message(QueueUrl=queues["EventsDLQ"], MessageBody=json.dumps({"generation_id": f"g{n}"}))

    assert _ops(endpoint, "dlq", "inspect", "EventsDLQ", "--json") == 0

    report = json.loads(capsys.readouterr().out)
    assert report["visible"] == 3
    assert sorted(m["preview"] for m in report["messages"]) == [
        '{"generation_id":"g0"}',
        '{"generation_id":"g1"}',
        '{"generation_id":"g2"}',
    ]


def test_redrive_moves_messages_back_to_the_source_queue(endpoint, aws, queues, capsys):
    # Given two parked submit messages
    sqs = aws("sqs")
    sent = {json.dumps({"job_id": f"job-{n}", "attempt": 0}) for n in range(2)}
    for body in sent:
        sqs.send_message(QueueUrl=queues["SubmitDLQ"], MessageBody=body)

    # When they are redriven (moto has no StartMessageMoveTask: the CLI falls back to send + delete)
    assert _ops(endpoint, "dlq", "redrive", "SubmitDLQ") == 0
    out = capsys.readouterr().out

    # Then they are back in the submit queue and gone from the DLQ
    assert "moved 2, failed 0, 0 left in the DLQ" in out
    assert set(_bodies(sqs, queues["SubmitQueue"])) == sent
    assert _visible(sqs, queues["SubmitDLQ"]) == 0


def test_redrive_with_max_moves_at_most_that_many(endpoint, aws, queues, capsys):
    sqs = aws("sqs")
    for n in range(3):
        sqs.send_message(QueueUrl=queues["EventsDLQ"], MessageBody=json.dumps({"generation_id": f"g{n}"}))

    assert _ops(endpoint, "dlq", "redrive", "EventsDLQ", "--max", "2") == 0

    assert "moved 2" in capsys.readouterr().out
    assert len(_bodies(sqs, queues["EventsQueue"])) == 2
    assert _visible(sqs, queues["EventsDLQ"]) == 1


def test_dry_run_moves_nothing(endpoint, aws, queues, capsys):
    sqs = aws("sqs")
    sqs.send_message(QueueUrl=queues["SubmitDLQ"], MessageBody=json.dumps({"job_id": "j", "attempt": 0}))

    assert _ops(endpoint, "dlq", "redrive", "SubmitDLQ", "--dry-run") == 0

    assert "would move 1 message(s)" in capsys.readouterr().out
    assert _visible(sqs, queues["SubmitDLQ"]) == 1
    assert _bodies(sqs, queues["SubmitQueue"]) == []


def test_a_refused_send_leaves_the_message_in_the_dlq(endpoint, aws, queues):
    # Given a destination that refuses the send (here: a queue that no longer exists)
    sqs = aws("sqs")
    sqs.send_message(QueueUrl=queues["SubmitDLQ"], MessageBody=json.dumps({"job_id": "keep", "attempt": 0}))
    gone = sqs.create_queue(QueueName=f"{STACK}-Gone")["QueueUrl"]
    sqs.delete_queue(QueueUrl=gone)

    # When the redrive fails
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        dlq.redrive(sqs, queues["SubmitDLQ"], gone, max_messages=1)

    # Then nothing was deleted: the message is still in the DLQ, held until its visibility timeout
    assert dlq.counts(sqs, queues["SubmitDLQ"]) == {"visible": 0, "in_flight": 1}


class _MoveTaskSqs:
    """An SQS client where StartMessageMoveTask exists, as on AWS: the redrive must use it."""

    def __init__(self):
        self.calls = []

    def get_queue_attributes(self, QueueUrl, AttributeNames):
        if AttributeNames == ["QueueArn"]:
            return {"Attributes": {"QueueArn": f"arn:{QueueUrl}"}}
        visible = "0" if any(c[0] == "start" for c in self.calls) else "4"
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": visible,
                "ApproximateNumberOfMessagesNotVisible": "0",
            }
        }

    def start_message_move_task(self, SourceArn, DestinationArn):
        self.calls.append(("start", SourceArn, DestinationArn))
        return {"TaskHandle": "handle-1"}

    def list_message_move_tasks(self, SourceArn, MaxResults):
        return {"Results": [{"Status": "COMPLETED", "ApproximateNumberOfMessagesMoved": 4}]}

    def receive_message(self, **kwargs):
        raise AssertionError("a move task was available: no message should move by hand")


def test_redrive_prefers_sqs_message_move_task_when_available():
    sqs = _MoveTaskSqs()

    report = dlq.redrive(sqs, "dlq-url", "source-url", sleep=lambda s: None)

    assert sqs.calls == [("start", "arn:dlq-url", "arn:source-url")]
    assert (report.method, report.moved, report.remaining) == ("move-task", 4, 0)
    assert report.task_handle == "handle-1"


# ----- jobs -------------------------------------------------------------------------------------


@pytest.fixture
def jobs_table(aws):
    props = load_yaml(Path("template.yaml"))["Resources"]["JobsTable"]["Properties"]
    ddb = aws("dynamodb")
    name = f"{STACK}-JobsTable"
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
        BillingMode=props["BillingMode"],
    )
    yield DynamoJobStore(ddb, name)
    ddb.delete_table(TableName=name)


@pytest.fixture
def clean_environment():
    """`job reconcile` sets the functions' variables in this process; put the old ones back."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    wiring.reset()


def _stored_job(store, *, age, status=JobStatus.QUEUED):
    now = datetime.now(UTC)
    submitted = status != JobStatus.QUEUED
    job = Job(
        id="5d2c7a9e-3b41-4f0e-8c6d-1a2b3c4d5e6f",
        user_id="alice",
        status=status,
        request={"prompt": "a lighthouse at dusk"},
        created_at=now - age,
        updated_at=now - age,
        generation_id="0f6e3c1a-9d2b-4c8e-a7f5-3b1d2e4c6a80" if submitted else None,
        submitted_at=now - age if submitted else None,
        due_at=int((now - age).timestamp()) + 120,
    )
    store.create(job, dedupe_key="req:test", dedupe_expires_at=int(now.timestamp()) + 60)
    return job


def test_job_show_prints_the_stored_item(endpoint, jobs_table, capsys):
    job = _stored_job(jobs_table, age=timedelta(minutes=1))

    assert _ops(endpoint, "job", "show", job.id) == 0

    item = json.loads(capsys.readouterr().out)
    assert (item["id"], item["status"], item["user_id"]) == (job.id, "QUEUED", "alice")


def test_job_show_of_an_unknown_id_fails(endpoint, jobs_table, capsys):
    assert _ops(endpoint, "job", "show", "no-such-job") == 1
    assert "no job no-such-job" in capsys.readouterr().err


def test_job_reconcile_runs_the_reconciler_check_on_one_job(
    endpoint, queues, jobs_table, clean_environment, capsys
):
    # Given a job submitted to Leonardo longer ago than MaxJobAgeSeconds (3600 by default)
    job = _stored_job(jobs_table, age=timedelta(hours=2), status=JobStatus.SUBMITTED)

    # When it is reconciled on demand, with the environment the functions get
    assert _ops(endpoint, "job", "reconcile", job.id) == 0

    # Then the reconciler failed it with code timeout, as the scheduled run would have
    assert f"{job.id}: timed_out (status now FAILED)" in capsys.readouterr().out
    stored = jobs_table.get(job.id)
    assert (stored.status, stored.error_code) == (JobStatus.FAILED, "timeout")
    assert os.environ["JOBS_TABLE"] == f"{STACK}-JobsTable"
    assert os.environ["SUBMIT_QUEUE_URL"] == queues["SubmitQueue"]


# ----- usage: the credit ledger, per user and top spenders -------------------------------------------


def _charged_job(store, user, estimate, *, plan="free", at=None, prompt="a lighthouse at dusk"):
    now = at or datetime.now(UTC)
    job = Job(
        id=str(uuid.uuid4()), user_id=user, status=JobStatus.QUEUED, request={"prompt": prompt},
        created_at=now, updated_at=now, plan=plan, charge=reserve(Decimal(estimate), "CREDITS", now),
    )  # fmt: skip
    assert store.create(job, dedupe_key=f"k-{job.id}", dedupe_expires_at=2**40) is None
    return job


def test_usage_of_a_user_shows_their_periods_against_their_plan_and_their_latest_jobs(
    endpoint, jobs_table, capsys
):
    # Given alice (free: 450 credits a day) with a job settled at Leonardo's cost, one still
    # reserved and one cancelled, and bob with a job of his own
    settled = _charged_job(jobs_table, "alice", "20")
    jobs_table.transition(
        settled, JobStatus.SUBMITTED, now=datetime.now(UTC), generation_id=str(uuid.uuid4()),
        cost=Cost(amount="18", unit="CREDITS"),
    )  # fmt: skip
    _charged_job(jobs_table, "alice", "9")
    cancelled = _charged_job(jobs_table, "alice", "30")
    jobs_table.cancel(cancelled, now=datetime.now(UTC))
    _charged_job(jobs_table, "bob", "100", plan="pro")

    # When an operator looks at alice
    assert _ops(endpoint, "usage", "--user", "alice", "--json") == 0
    found = json.loads(capsys.readouterr().out)

    # Then each period shows her plan's budget, what is spent, reserved and left...
    day, month = found["periods"]
    assert (day["period"], day["key"]) == ("day", f"{datetime.now(UTC):%Y-%m-%d}")
    assert (day["plan"], day["budget"], day["spent"], day["reserved"], day["remaining"]) == (
        "free", "450", "18", "9", "423",
    )  # fmt: skip
    assert (month["budget"], month["committed"], month["jobs"]) == ("4500", "27", 3)
    # ...her latest jobs with their charges, newest first, and never a prompt...
    states = [(j["id"], j["charge"]["state"]) for j in found["recent_jobs"]]
    assert states[-1] == (settled.id, "settled") and states[0] == (cancelled.id, "released")
    assert found["recent_jobs"][-1]["charge"]["amount"] == "18"
    assert "lighthouse" not in json.dumps(found)
    # ...and the pseudonym her cost log lines carry.
    assert found["user"] == pseudonym("alice")

    # And the text form says the same
    assert _ops(endpoint, "usage", "--user", "alice") == 0
    text = capsys.readouterr().out
    assert "plan free" in text and "committed 27 of 450, 423 left (spent 18, reserved 9)" in text
    assert "settled 18 CREDITS (leonardo), estimate 20" in text


def test_usage_top_lists_the_largest_spenders_of_today_and_this_month(endpoint, jobs_table, capsys):
    # Given users who committed different amounts today, and one who spent only last month
    for n in range(6):
        _charged_job(jobs_table, f"user-{n}", str(10 * (n + 1)), plan="pro" if n == 5 else "free")
    last_month = datetime.now(UTC).replace(day=1) - timedelta(days=1)
    _charged_job(jobs_table, "old-timer", "1000", at=last_month)

    # When an operator asks for the top 3
    assert _ops(endpoint, "usage", "--top", "3", "--json") == 0
    found = json.loads(capsys.readouterr().out)

    # Then today's and this month's three largest, largest first, with plan, budget and pseudonym
    for period in ("day", "month"):
        rows = found[period]["spenders"]
        assert [r["user_id"] for r in rows] == ["user-5", "user-4", "user-3"], period
    top = found["day"]["spenders"][0]
    assert (top["plan"], top["committed"], top["budget"], top["remaining"]) == ("pro", "60", "20000", "19940")
    assert top["user"] == pseudonym("user-5")
    # And an earlier day shows that day's spenders
    assert _ops(endpoint, "usage", "--top", "3", "--date", f"{last_month:%Y-%m-%d}") == 0
    text = capsys.readouterr().out
    assert "1. old-timer" in text and "user-5" not in text


def test_the_cli_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "ops", "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    assert "dlq" in result.stdout and "job" in result.stdout
