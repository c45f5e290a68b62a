"""The SQS poller keeps Lambda's promise under a test clock: a running batch is never delivered beside itself.

On AWS a queue's visibility timeout is at least its consumer's Timeout, so a message cannot come
back while the invocation that received it runs. The local stack scales visibility timeouts down
(retries in seconds) but not Timeouts; the poller hides a running batch's messages again until
the invocation ends or its Timeout passes, and only then may SQS deliver them again.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from stackrunner.pollers import SqsPoller
from stackrunner.template import SqsSource

pytestmark = pytest.mark.integration

VISIBILITY = 1  # seconds, as a test clock makes them


class Counting:
    """An SQS client that counts the visibility changes sent through it."""

    def __init__(self, client) -> None:
        self._client = client
        self.visibility_changes = 0

    def change_message_visibility_batch(self, **kwargs):
        self.visibility_changes += 1
        return self._client.change_message_visibility_batch(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


class Function:
    """A consumer whose invocations take `seconds[n]` for the n-th call (the last figure after that)."""

    def __init__(self, *seconds: float) -> None:
        self._seconds = seconds
        self.calls: list[list[str]] = []
        self._lock = threading.Lock()

    def __call__(self, name: str, event: dict) -> None:
        with self._lock:
            n = len(self.calls)
            self.calls.append([record["body"] for record in event["Records"]])
        time.sleep(self._seconds[min(n, len(self._seconds) - 1)])

    def bodies(self) -> list[str]:
        return [body for call in self.calls for body in call]


def _run(aws, function: Function, *, timeout: float, bodies: list[str], wait: float) -> tuple[Counting, int]:
    """Send `bodies`, poll for `wait` seconds, and return the client and the messages left."""
    sqs = aws.client("sqs")
    name = f"q-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(VISIBILITY)})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    counting = Counting(aws.client("sqs"))
    source = SqsSource(function="Consumer", event="Queue", queue=name, batch_size=10, max_concurrency=2)
    poller = SqsPoller(source, url, arn, lambda: counting, function,
                       visibility_timeout=VISIBILITY, function_timeout=timeout)  # fmt: skip
    poller.start()
    time.sleep(wait)
    poller.stop()
    poller.join()
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    left = sum(int(v) for v in attributes.values())
    return counting, left


def test_a_batch_running_past_the_visibility_timeout_is_delivered_once(aws):
    slow = Function(3.5)  # three and a half visibility timeouts, inside its 10 s Timeout
    counting, left = _run(aws, slow, timeout=10, bodies=["a", "b", "c"], wait=5.5)

    assert sorted(slow.bodies()) == ["a", "b", "c"]
    assert len(slow.calls) == 1
    assert left == 0  # deleted once the invocation succeeded
    assert counting.visibility_changes >= 3  # hidden again about every third of a timeout while it ran


def test_a_batch_that_runs_past_its_timeout_comes_back_as_after_lambda_ended_it(aws):
    overrun = Function(4.0, 0.0)  # the first invocation overruns its 1.5 s Timeout
    _, left = _run(aws, overrun, timeout=1.5, bodies=["a"], wait=6.5)

    assert overrun.bodies()[:2] == ["a", "a"]
    assert left == 0


def test_a_failed_batch_comes_back_after_the_visibility_timeout(aws):
    class Failing(Function):
        def __call__(self, name: str, event: dict) -> None:
            super().__call__(name, event)
            if len(self.calls) == 1:
                raise RuntimeError("the first invocation fails")

    failing = Failing(0.0)
    _, left = _run(aws, failing, timeout=10, bodies=["a"], wait=3.0)

    assert failing.bodies() == ["a", "a"]
    assert left == 0


def test_nothing_is_hidden_again_where_the_visibility_timeout_covers_the_timeout(aws):
    # As on AWS with the template's own figures: the queue's timeout alone keeps the batch hidden.
    quick = Function(0.2)
    counting, left = _run(aws, quick, timeout=VISIBILITY, bodies=["a", "b"], wait=1.5)

    assert sorted(quick.bodies()) == ["a", "b"]
    assert counting.visibility_changes == 0
    assert left == 0
