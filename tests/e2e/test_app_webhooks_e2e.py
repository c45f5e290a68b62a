"""Outbound webhooks on the local stack: a job completes, its Generation Completed goes from the bus
through AppWebhookQueue and AppWebhookFunction to a receiver on loopback (docs/webhooks.md)."""

from __future__ import annotations

import time
import uuid

import pytest
from standardwebhooks.webhooks import Webhook

from ops import webhooks
from ops.cli import main as ops_main
from ops.stack import Stack
from tests.support.jobs import wait_for_status
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.e2e
REQUEST = {"prompt": "A lighthouse on a cliff at dawn", "width": 320, "height": 256, "num_images": 1}


@pytest.fixture
def endpoint(stack):
    """A receiver registered by the operator's command, removed afterwards."""
    ops_stack = Stack(name=stack.config.stack_name, local=True, endpoint_url=stack.aws_endpoint)
    with WebhookReceiver() as receiver:
        added, secret = webhooks.add(ops_stack, receiver.url, ("Generation Completed",), "e2e")
        yield receiver, secret, ops_stack
        webhooks.remove(ops_stack, added.endpoint_id)


@pytest.fixture
def user(token_for):
    name = f"user-{uuid.uuid4().hex[:8]}"
    return {"authorization": f"Bearer {token_for(name)}"}


def completed_job(api, headers) -> str:
    created = api.post("/v1/generations", json=REQUEST, headers=headers)
    assert created.status_code == 202, created.text
    job = wait_for_status(api, headers, created.json()["id"])
    assert job["status"] == "COMPLETE", job
    return job["id"]


def deliveries_of(receiver: WebhookReceiver, event_id: str, count: int, timeout: float = 30.0) -> list:
    """The requests carrying this webhook-id, once there are `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in receiver.requests if r.headers.get("webhook-id") == event_id]
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, f"{len(found)} of {count} deliveries of {event_id} in {timeout}s"
            return found
        time.sleep(0.1)


def test_a_completed_job_reaches_the_app_signed_and_a_replay_carries_the_same_id(api, user, endpoint):
    receiver, secret, ops_stack = endpoint
    job_id = completed_job(api, user)
    # Then one delivery arrives, under the job's event id, and the spec's package verifies it
    (first,) = deliveries_of(receiver, f"{job_id}:COMPLETE", 1)
    body = Webhook(secret).verify(first.body, first.headers)
    assert (body["type"], body["data"]["job_id"], body["data"]["status"]) == (
        "generation.completed", job_id, "COMPLETE",
    )  # fmt: skip
    # When the operator replays it
    args = ["--local", "--endpoint-url", ops_stack.endpoint_url, "--stack-name", ops_stack.name]
    assert ops_main(["webhooks", "replay", f"{job_id}:COMPLETE", *args]) == 0
    # Then it arrives again: same id, same body, signed afresh
    _, again = deliveries_of(receiver, f"{job_id}:COMPLETE", 2)
    assert again.body == first.body
    Webhook(secret).verify(again.body, again.headers)


def test_a_receiver_answering_500_gets_the_event_again(api, user, endpoint):
    receiver, secret, ops_stack = endpoint
    receiver.fail_next(1, 500)
    job_id = completed_job(api, user)
    failed, retried = deliveries_of(receiver, f"{job_id}:COMPLETE", 2)
    assert (failed.answered, retried.answered) == (500, 200)
    Webhook(secret).verify(retried.body, retried.headers)
    (log,) = webhooks.deliveries(ops_stack, event_id=f"{job_id}:COMPLETE")
    assert (log.status, log.attempts, log.last_status_code) == ("delivered", 2, 200)
