"""The delivery use case on in-memory fakes: fan-out, signed attempts, retries, giving up, replay
(the DynamoDB store is exercised in tests/pipeline/test_app_webhooks.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from gencore.domain.app_webhooks.bus_events import event_from_bus
from gencore.domain.app_webhooks.delivery import AppWebhooks
from gencore.domain.app_webhooks.records import (
    Delivery,
    DeliveryMessage,
    DeliveryStatus,
    Endpoint,
    SendResult,
    StoredEvent,
)
from gencore.domain.app_webhooks.retry_policy import DeliveryPolicy
from gencore.domain.app_webhooks.signing import new_secret
from tests.support.app_webhooks import T0, bus_event
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.unit


class FakeStore:
    def __init__(self) -> None:
        self.endpoints_: dict[str, Endpoint] = {}
        self.events: dict[str, StoredEvent] = {}
        self.deliveries: dict[tuple[str, str], dict] = {}

    def endpoints(self):
        return list(self.endpoints_.values())

    def endpoint(self, endpoint_id):
        return self.endpoints_.get(endpoint_id)

    def save_event(self, event, *, expires_at):
        return self.events.setdefault(event.event_id, event)

    def mark_fanned_out(self, event_id):
        self.events[event_id] = replace(self.events[event_id], fanned_out=True)

    def event(self, event_id):
        return self.events.get(event_id)

    def _delivery(self, key) -> Delivery:
        d = self.deliveries[key]
        return Delivery(key[0], key[1], d["status"], d["round"], d["attempts"], d.get("code"), d.get("error"))

    def open_delivery(self, event_id, endpoint_id, *, now, expires_at):
        self.deliveries.setdefault((event_id, endpoint_id), {"status": "pending", "round": 0, "attempts": 0})
        return self._delivery((event_id, endpoint_id))

    def reopen(self, event_id, endpoint_id, *, now, expires_at):
        d = self.deliveries.setdefault((event_id, endpoint_id), {"round": -1})
        d.update(status="pending", round=d["round"] + 1, attempts=0)
        return self._delivery((event_id, endpoint_id))

    def claim(self, message, *, now, lease_until):
        d = self.deliveries[(message.event_id, message.endpoint_id)]
        fresh = d["attempts"] == message.attempt - 1 and d["status"] == "pending"
        taken_over = d["attempts"] == message.attempt and d["status"] == "delivering" and d["lease"] < now
        if d["round"] != message.round or not (fresh or taken_over):
            return False
        d.update(attempts=message.attempt, status="delivering", lease=lease_until)
        return True

    def record(self, message, *, status, now, status_code, error, next_attempt_at=None):
        d = self.deliveries[(message.event_id, message.endpoint_id)]
        if d["round"] == message.round and d["attempts"] == message.attempt:
            d.update(status=status, code=status_code, error=error, next=next_attempt_at)

    def endpoint_succeeded(self, endpoint_id):
        self.endpoints_[endpoint_id] = replace(
            self.endpoints_[endpoint_id], failing_since=None, failed_events=0
        )

    def endpoint_failed(self, endpoint_id, *, now, exhausted):
        e = self.endpoints_[endpoint_id]
        e = replace(
            e, failing_since=e.failing_since or now.timestamp(), failed_events=e.failed_events + exhausted
        )
        self.endpoints_[endpoint_id] = e
        return e

    def disable(self, endpoint_id, *, reason, now):
        e = self.endpoints_[endpoint_id]
        if not e.enabled:
            return False
        self.endpoints_[endpoint_id] = replace(e, enabled=False, disabled_reason=reason)
        return True


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[DeliveryMessage, int]] = []

    def send(self, message, *, delay_seconds):
        self.sent.append((message, delay_seconds))

    def take(self) -> DeliveryMessage:
        return self.sent.pop(0)[0]


class FakeKeys:
    def __init__(self, secret: str) -> None:
        self.secret = secret

    def active(self, endpoint, now):
        return [self.secret]


class ScriptedSender:
    def __init__(self) -> None:
        self.answers: list[SendResult] = []
        self.sent: list[tuple[str, bytes, dict]] = []

    def post(self, url, body, headers):
        self.sent.append((url, body, headers))
        return self.answers.pop(0) if self.answers else SendResult(status_code=200)


@pytest.fixture
def world():
    clock = FakeClock(T0)
    store, queue, sender = FakeStore(), FakeQueue(), ScriptedSender()
    secret = new_secret()
    store.endpoints_["ep1"] = Endpoint(
        "ep1", "app", "https://hooks.example.com/x", ("Generation Completed",), "arn:secret", T0.isoformat()
    )
    policy = DeliveryPolicy(
        schedule=(5, 300, 1800), disable_after_failed_events=2, disable_after_seconds=86400
    )
    hooks = AppWebhooks(store, queue, FakeKeys(secret), sender, clock, policy)
    return hooks, store, queue, sender, clock, secret


def test_a_published_event_is_delivered_once_signed_with_the_event_id(world):
    hooks, store, queue, sender, _, secret = world
    # Given a Generation Completed event on the bus
    assert hooks.publish(bus_event()) == 1
    # When the delivery message is handled
    outcome = hooks.deliver(queue.take())
    # Then the endpoint got the body, signed, under the event id
    assert outcome.name == "delivered"
    ((url, body, headers),) = sender.sent
    assert url == "https://hooks.example.com/x" and headers["webhook-id"] == "job-1:COMPLETE"
    moment = datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=UTC)  # the fake clock's
    assert headers["webhook-signature"] == Webhook(secret).sign("job-1:COMPLETE", moment, body.decode())
    assert store.deliveries[("job-1:COMPLETE", "ep1")]["status"] == DeliveryStatus.DELIVERED


def test_events_an_endpoint_did_not_subscribe_to_and_disabled_endpoints_get_nothing(world):
    hooks, store, queue, *_ = world
    assert hooks.publish(bus_event("FAILED", "Generation Failed")) == 0
    store.endpoints_["ep1"] = replace(store.endpoints_["ep1"], enabled=False)
    assert hooks.publish(bus_event()) == 0
    assert queue.sent == []


def test_a_repeated_bus_event_is_not_delivered_twice(world):
    hooks, _, queue, sender, *_ = world
    hooks.publish(bus_event())
    hooks.publish(bus_event())  # the bus delivers at least once; the outbox may publish again
    for message, _ in list(queue.sent):
        hooks.deliver(message)
    assert len(sender.sent) == 1


def test_a_500_is_retried_after_the_scheduled_delay_with_the_same_webhook_id(world):
    hooks, store, queue, sender, clock, _ = world
    sender.answers = [SendResult(status_code=500)]
    hooks.publish(bus_event())
    assert hooks.deliver(queue.take()).name == "retry_scheduled"
    # The next attempt is enqueued with the schedule's first delay (jittered)
    following, delay = queue.sent[0]
    assert following.attempt == 2 and 4 <= delay <= 6
    log = store.deliveries[("job-1:COMPLETE", "ep1")]
    assert (log["status"], log["attempts"], log["code"]) == ("pending", 1, 500)
    clock.advance(delay)
    assert hooks.deliver(queue.take()).name == "delivered"
    assert [h["webhook-id"] for _, _, h in sender.sent] == ["job-1:COMPLETE", "job-1:COMPLETE"]
    assert store.endpoints_["ep1"].failing_since is None


def test_a_delay_beyond_sqs_fifteen_minutes_is_waited_out_by_re_enqueueing(world):
    hooks, _, queue, sender, clock, _ = world
    sender.answers = [SendResult(status_code=500)] * 3
    hooks.publish(bus_event())
    hooks.deliver(queue.take())
    clock.advance(10)
    hooks.deliver(queue.take())  # attempt 2 fails: the next delay is ~300 s
    clock.advance(400)
    hooks.deliver(queue.take())  # attempt 3 fails: ~1800 s, more than SQS can delay
    message, delay = queue.sent[-1]
    assert delay == 900 and message.not_before - clock().timestamp() > 1600
    # Received after 900 s: too early, so it goes round again without an attempt
    clock.advance(900)
    assert hooks.deliver(queue.take()).name == "deferred"
    assert len(sender.sent) == 3


def test_a_repeat_of_an_event_fanned_out_before_reaches_no_endpoint_added_since(world):
    hooks, store, queue, sender, *_ = world
    hooks.publish(bus_event())
    hooks.deliver(queue.take())
    store.endpoints_["ep2"] = replace(store.endpoints_["ep1"], endpoint_id="ep2")
    assert hooks.publish(bus_event()) == 0
    assert queue.sent == [] and len(sender.sent) == 1


def test_a_fan_out_cut_short_is_finished_by_the_repeat(world):
    hooks, store, queue, *_ = world
    # Given a fan-out that stored the event and died before it was done
    store.save_event(event_from_bus(bus_event()), expires_at=0)
    # When the queue delivers the bus event again
    assert hooks.publish(bus_event()) == 1
    assert hooks.deliver(queue.take()).name == "delivered"


def test_a_repeated_or_stale_delivery_message_is_dropped(world):
    hooks, _, queue, sender, *_ = world
    hooks.publish(bus_event())
    message = queue.take()
    assert hooks.deliver(message).name == "delivered"
    assert hooks.deliver(message).name == "stale"
    assert len(sender.sent) == 1


def test_an_attempt_that_crashed_is_taken_over_after_its_lease(world):
    hooks, store, queue, _, clock, _ = world
    hooks.publish(bus_event())
    message = queue.take()
    # Given an attempt claimed by an invocation that died before recording anything
    assert store.claim(message, now=clock(), lease_until=clock() + timedelta(seconds=120))
    assert hooks.deliver(message).name == "stale"  # its lease still runs
    clock.advance(121)
    assert hooks.deliver(message).name == "delivered"


def test_after_the_last_attempt_the_delivery_failed_and_the_endpoint_is_disabled_after_two_such_events(world):
    hooks, store, queue, sender, clock, _ = world
    sender.answers = [SendResult(status_code=503)] * 8
    outcomes = []
    for job in ("job-1", "job-2"):
        hooks.publish(bus_event(job=job))
        while queue.sent:
            message = queue.take()
            clock.advance(max(0.0, message.not_before - clock().timestamp()))
            outcomes.append(hooks.deliver(message))
    assert [o.name for o in outcomes] == ["retry_scheduled"] * 3 + ["failed"] + ["retry_scheduled"] * 3 + [
        "failed"
    ]
    assert outcomes[-1].disabled_endpoint == "ep1"
    assert not store.endpoints_["ep1"].enabled
    assert store.endpoints_["ep1"].disabled_reason == "2_events_failed"
    assert store.deliveries[("job-2:COMPLETE", "ep1")]["status"] == DeliveryStatus.FAILED


def test_an_endpoint_failing_for_longer_than_the_limit_is_disabled(world):
    hooks, store, queue, sender, *_ = world
    store.endpoints_["ep1"] = replace(
        store.endpoints_["ep1"], failing_since=(T0 - timedelta(days=2)).timestamp()
    )
    sender.answers = [SendResult(error="timeout")]
    hooks.publish(bus_event())
    outcome = hooks.deliver(queue.take())
    assert outcome.name == "retry_scheduled" and outcome.disabled_endpoint == "ep1"
    assert store.endpoints_["ep1"].disabled_reason == "failing_too_long"


def test_410_gone_disables_the_endpoint_at_once(world):
    hooks, _, queue, sender, *_ = world
    sender.answers = [SendResult(status_code=410)]
    hooks.publish(bus_event())
    outcome = hooks.deliver(queue.take())
    assert (outcome.name, outcome.disabled_endpoint) == ("disabled", "ep1")
    assert queue.sent == []


def test_a_delivery_for_an_endpoint_disabled_meanwhile_is_skipped(world):
    hooks, store, queue, sender, *_ = world
    hooks.publish(bus_event())
    store.endpoints_["ep1"] = replace(store.endpoints_["ep1"], enabled=False)
    assert hooks.deliver(queue.take()).name == "skipped"
    assert sender.sent == []


def test_replay_delivers_again_in_a_new_round_with_the_same_id(world):
    hooks, _, queue, sender, *_ = world
    hooks.publish(bus_event())
    first = queue.take()
    hooks.deliver(first)
    assert hooks.replay("job-1:COMPLETE") == ["ep1"]
    again = queue.take()
    assert (again.round, again.attempt) == (1, 1)
    assert hooks.deliver(again).name == "delivered"
    assert hooks.deliver(first).name == "stale"  # the old round's message can never send again
    assert [h["webhook-id"] for _, _, h in sender.sent] == ["job-1:COMPLETE"] * 2


def test_replay_of_an_unknown_event_says_so(world):
    hooks, *_ = world
    with pytest.raises(LookupError):
        hooks.replay("nope")
