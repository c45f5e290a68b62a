"""Outbound webhooks on moto: the operator's commands, the real AppWebhookFunction handler, and a
receiver on loopback. Bus events are put on AppWebhookQueue as the EventBridge rule would."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from gencore import outbound_webhooks
from ops import webhooks
from ops.cli import main as ops_main
from ops.stack import Stack
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.integration

QUEUE = "AppWebhookQueue"
FUNCTION = "AppWebhookFunction"


def bus_event(
    job: str = "job-1", status: str = "COMPLETE", detail_type: str = "Generation Completed"
) -> dict:
    return {
        "version": "0", "id": f"bus-{job}", "source": "leonardo-backend", "detail-type": detail_type,
        "account": "123456789012", "region": "us-east-1", "resources": [],
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "detail": {"version": "1", "event_id": f"{job}:{status}", "job_id": job, "user_id": "alice",
                   "kind": "text_to_image", "status": status, "error_code": None, "outputs": []},
    }  # fmt: skip


@pytest.fixture
def hooks(stack, pipeline, monkeypatch):
    """The pipeline with the local-only loopback setting, a retry schedule in seconds, and the ops
    commands pointed at the same moto."""
    monkeypatch.setenv("APP_WEBHOOKS_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("APP_WEBHOOK_RETRY_SCHEDULE", "1,1")
    outbound_webhooks.reset()
    pipeline.queues[QUEUE] = stack.env["APP_WEBHOOK_QUEUE_URL"]
    ops_stack = Stack(name=stack.template.stack_name, local=True, endpoint_url=stack.aws.endpoint)
    with WebhookReceiver() as receiver:
        yield pipeline, ops_stack, receiver
    outbound_webhooks.reset()


def publish(pipeline, event: dict) -> None:
    pipeline.sqs.send_message(QueueUrl=pipeline.queues[QUEUE], MessageBody=json.dumps(event))


def run_until(pipeline, done, timeout: float = 15.0) -> None:
    """Run the delivery function on its queue (delayed messages included) until `done()`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.drain(QUEUE, FUNCTION)
        if done():
            return
        time.sleep(0.2)
    raise AssertionError("not done in time")


def ops(ops_stack: Stack, *args: str) -> int:
    return ops_main(["webhooks", *args, "--local", "--endpoint-url", ops_stack.endpoint_url,
                     "--stack-name", ops_stack.name])  # fmt: skip


def verify(secret: str, request) -> dict:
    return Webhook(secret).verify(request.body, request.headers)


def test_a_completion_event_reaches_the_endpoint_signed_under_its_event_id(hooks, capsys):
    pipeline, ops_stack, receiver = hooks
    # Given an endpoint added by the operator (its secret printed once)
    assert (
        ops(ops_stack, "add", receiver.url, "--events", "Generation Completed", "--app", "shop", "--json")
        == 0
    )
    added = json.loads(capsys.readouterr().out)
    # When a job's completion event arrives, twice (the bus delivers at least once)
    publish(pipeline, bus_event())
    publish(pipeline, bus_event())
    run_until(pipeline, lambda: len(receiver.requests) >= 1)
    time.sleep(1.5)
    pipeline.drain(QUEUE, FUNCTION)
    # Then one signed delivery reached the receiver, under the event id, verified by the package
    (request,) = receiver.requests
    assert request.headers["webhook-id"] == "job-1:COMPLETE"
    body = verify(added["secret"], request)
    assert body["type"] == "generation.completed" and body["data"]["job_id"] == "job-1"
    # And the delivery log says so
    (log,) = webhooks.deliveries(ops_stack, event_id="job-1:COMPLETE")
    assert (log.status, log.attempts, log.last_status_code) == ("delivered", 1, 200)


def test_an_event_type_the_endpoint_did_not_ask_for_is_not_sent(hooks):
    pipeline, ops_stack, receiver = hooks
    webhooks.add(ops_stack, receiver.url, ("Generation Completed",), "shop")
    publish(pipeline, bus_event(status="FAILED", detail_type="Generation Failed"))
    pipeline.drain(QUEUE, FUNCTION)
    assert receiver.requests == []


def test_a_500_is_retried_and_the_retry_carries_the_same_webhook_id(hooks):
    pipeline, ops_stack, receiver = hooks
    endpoint, secret = webhooks.add(ops_stack, receiver.url, ("Generation Completed",), "shop")
    receiver.fail_next(1, 500)
    publish(pipeline, bus_event())
    run_until(pipeline, lambda: len(receiver.requests) >= 2)
    first, second = receiver.requests
    assert (first.answered, second.answered) == (500, 200)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "job-1:COMPLETE"
    verify(secret, second)
    (log,) = webhooks.deliveries(ops_stack, endpoint_id=endpoint.endpoint_id)
    assert (log.status, log.attempts, log.last_status_code) == ("delivered", 2, 200)


def test_an_endpoint_that_keeps_failing_is_disabled_and_nothing_more_is_sent(hooks, monkeypatch):
    pipeline, ops_stack, receiver = hooks
    monkeypatch.setenv("APP_WEBHOOK_DISABLE_AFTER_FAILED_EVENTS", "1")
    outbound_webhooks.reset()
    endpoint, _ = webhooks.add(ops_stack, receiver.url, ("Generation Completed",), "shop")
    receiver.answer_always(500)
    # When an event fails all three attempts
    publish(pipeline, bus_event())
    run_until(
        pipeline, lambda: webhooks.deliveries(ops_stack, event_id="job-1:COMPLETE")[0].status == "failed"
    )
    # Then the endpoint is disabled, with the reason
    (stored,) = webhooks.endpoints(ops_stack)
    assert not stored.enabled and stored.disabled_reason == "1_events_failed"
    assert len(receiver.requests) == 3
    # And a later event is not sent to it
    publish(pipeline, bus_event(job="job-2"))
    pipeline.drain(QUEUE, FUNCTION)
    assert len(receiver.requests) == 3
    # Until the operator enables it and replays what it missed
    receiver.recover()
    assert webhooks.set_enabled(ops_stack, endpoint.endpoint_id, True)
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    assert ops(ops_stack, "replay", "--since", since) == 0
    run_until(pipeline, lambda: {r.headers["webhook-id"] for r in receiver.requests if r.answered == 200}
              == {"job-1:COMPLETE", "job-2:COMPLETE"})  # fmt: skip


def test_replay_delivers_an_event_again_with_the_same_id(hooks):
    pipeline, ops_stack, receiver = hooks
    _, secret = webhooks.add(ops_stack, receiver.url, ("Generation Completed",), "shop")
    publish(pipeline, bus_event())
    run_until(pipeline, lambda: len(receiver.requests) == 1)
    assert ops(ops_stack, "replay", "job-1:COMPLETE") == 0
    run_until(pipeline, lambda: len(receiver.requests) == 2)
    first, again = receiver.requests
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    assert first.body == again.body
    verify(secret, again)
    (log,) = webhooks.deliveries(ops_stack, event_id="job-1:COMPLETE")
    assert (log.status, log.round) == ("delivered", 1)


def test_after_a_rotation_both_secrets_sign_during_the_overlap(hooks):
    pipeline, ops_stack, receiver = hooks
    endpoint, old = webhooks.add(ops_stack, receiver.url, ("Generation Completed",), "shop")
    publish(pipeline, bus_event())
    run_until(pipeline, lambda: len(receiver.requests) == 1)  # the old secret is cached warm
    new, until = webhooks.rotate(ops_stack, endpoint.endpoint_id, overlap_hours=1)
    assert until is not None and new != old
    publish(pipeline, bus_event(job="job-2"))
    run_until(pipeline, lambda: len(receiver.requests) == 2)
    latest = receiver.requests[-1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 2
    verify(new, latest)
    verify(old, latest)


def test_without_the_local_setting_a_loopback_endpoint_gets_nothing(hooks, monkeypatch):
    pipeline, ops_stack, receiver = hooks
    webhooks.add(ops_stack, receiver.url, ("Generation Completed",), "shop")  # added on the local stack
    monkeypatch.delenv("APP_WEBHOOKS_ALLOW_LOOPBACK")
    monkeypatch.setenv("APP_WEBHOOK_RETRY_SCHEDULE", "")
    outbound_webhooks.reset()
    publish(pipeline, bus_event())
    run_until(
        pipeline, lambda: webhooks.deliveries(ops_stack, event_id="job-1:COMPLETE")[0].status == "failed"
    )
    assert receiver.requests == []
    (log,) = webhooks.deliveries(ops_stack, event_id="job-1:COMPLETE")
    assert log.last_error == "url_not_https"


def test_the_operator_cannot_add_a_private_or_plain_http_endpoint(hooks, stack):
    _, local_stack, _ = hooks
    table = local_stack.physical_id("JobsTable")
    ops_stack = Stack(name=local_stack.name, endpoint_url=stack.aws.endpoint, region="us-east-1",
                      overrides={"JobsTable": table})  # as on AWS: no loopback  # fmt: skip
    for url in (
        "http://hooks.example.com/x",
        "https://10.0.0.7/x",
        "https://[fd00::1]/x",
        "https://localhost/x",
    ):
        with pytest.raises(ValueError):
            webhooks.add(ops_stack, url, ("Generation Completed",), "shop")
    assert webhooks.endpoints(ops_stack) == []


def test_list_disable_and_remove(hooks, capsys):
    _, ops_stack, receiver = hooks
    endpoint, _ = webhooks.add(ops_stack, receiver.url, ("Generation Completed", "Generation Failed"), "shop")
    assert ops(ops_stack, "disable", endpoint.endpoint_id) == 0
    assert ops(ops_stack, "list") == 0
    assert "DISABLED (operator" in capsys.readouterr().out
    assert ops(ops_stack, "remove", endpoint.endpoint_id) == 0
    assert webhooks.endpoints(ops_stack) == []
    assert ops(ops_stack, "enable", endpoint.endpoint_id) == 2  # gone


def test_the_rule_takes_completion_events_from_the_bus_to_the_delivery_queue(hooks, stack):
    pipeline, ops_stack, receiver = hooks
    webhooks.add(ops_stack, receiver.url, ("Generation Completed", "Generation Failed"), "shop")
    bus = stack.template.physical["EventBus"].ref
    events = stack.aws.client("events")
    # Given our completion events and a stranger's event on the stack's bus
    entries = [
        {"EventBusName": bus, "Source": "leonardo-backend", "DetailType": e["detail-type"],
         "Detail": json.dumps(e["detail"])}
        for e in (bus_event(), bus_event(job="job-2", status="FAILED", detail_type="Generation Failed"))
    ] + [{"EventBusName": bus, "Source": "someone-else", "DetailType": "Generation Completed",
          "Detail": json.dumps(bus_event(job="job-3")["detail"])}]  # fmt: skip
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0
    # Then ours are delivered, and only ours
    run_until(pipeline, lambda: len(receiver.requests) >= 2)
    time.sleep(0.5)
    pipeline.drain(QUEUE, FUNCTION)
    assert sorted(r.headers["webhook-id"] for r in receiver.requests) == ["job-1:COMPLETE", "job-2:FAILED"]
