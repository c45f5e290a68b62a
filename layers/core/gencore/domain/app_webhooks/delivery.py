"""The use case: fan-out of a bus event to the subscribed endpoints, replay, and one signed attempt
with its retry or give-up (the package's docstring tells the whole story)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from gencore.domain.app_webhooks.bus_events import event_from_bus
from gencore.domain.app_webhooks.ports import AppWebhookStore, DeliveryQueue, Sender, SigningKeys
from gencore.domain.app_webhooks.records import DeliveryMessage, DeliveryStatus, Endpoint, Outcome, SendResult
from gencore.domain.app_webhooks.retry_policy import DeliveryPolicy
from gencore.domain.app_webhooks.signing import signature_header

SQS_MAX_DELAY = 900  # SQS DelaySeconds caps at 15 minutes: longer waits are re-enqueued


class AppWebhooks:
    def __init__(
        self,
        store: AppWebhookStore,
        queue: DeliveryQueue,
        keys: SigningKeys,
        sender: Sender,
        clock: Callable[[], datetime],
        policy: DeliveryPolicy | None = None,
    ) -> None:
        self._store, self._queue, self._keys, self._sender = store, queue, keys, sender
        self._clock = clock
        self.policy = policy or DeliveryPolicy()

    def _expires_at(self, now: datetime) -> int:
        return int(now.timestamp()) + self.policy.event_retention_seconds

    # --- fan-out: one bus event, one delivery per subscribed endpoint ---

    def publish(self, envelope: dict[str, Any]) -> int:
        """Store the event and start a delivery to each enabled, subscribed endpoint, once.

        A repeat of an event already fanned out (the bus delivers at least once, the outbox may
        publish again) starts nothing, not even for an endpoint added since. A fan-out cut short
        is done again: deliveries already open are not reopened, a first attempt may be enqueued
        twice, and the claim lets only one of the two messages through.
        """
        now = self._clock()
        event = self._store.save_event(event_from_bus(envelope), expires_at=self._expires_at(now))
        if event.fanned_out:
            return 0
        started = 0
        for endpoint in self._store.endpoints():
            if not (endpoint.enabled and endpoint.subscribed(event.detail_type)):
                continue
            delivery = self._store.open_delivery(
                event.event_id, endpoint.endpoint_id, now=now, expires_at=self._expires_at(now)
            )
            if delivery.round == 0 and delivery.attempts == 0 and delivery.status == DeliveryStatus.PENDING:
                self._queue.send(DeliveryMessage(event.event_id, endpoint.endpoint_id), delay_seconds=0)
                started += 1
        self._store.mark_fanned_out(event.event_id)
        return started

    def replay(self, event_id: str, *, endpoint_id: str | None = None) -> list[str]:
        """Deliver a stored event again, in a new round, to each enabled endpoint subscribed to it
        (or to `endpoint_id` only). Same `webhook-id`: receivers that had it drop it."""
        event = self._store.event(event_id)
        if event is None:
            raise LookupError(f"no stored event {event_id} (kept {self.policy.event_retention_seconds} s)")
        now = self._clock()
        sent = []
        for endpoint in self._store.endpoints():
            if endpoint_id is not None and endpoint.endpoint_id != endpoint_id:
                continue
            if not (endpoint.enabled and endpoint.subscribed(event.detail_type)):
                continue
            delivery = self._store.reopen(
                event_id, endpoint.endpoint_id, now=now, expires_at=self._expires_at(now)
            )
            message = DeliveryMessage(event_id, endpoint.endpoint_id, attempt=1, round=delivery.round)
            self._queue.send(message, delay_seconds=0)
            sent.append(endpoint.endpoint_id)
        return sent

    # --- one attempt ---

    def deliver(self, message: DeliveryMessage) -> Outcome:
        now = self._clock()
        wait = message.not_before - now.timestamp()
        if wait > 1:  # a wait longer than SQS's delay: go round again
            self._queue.send(message, delay_seconds=min(SQS_MAX_DELAY, math.ceil(wait)))
            return Outcome("deferred")
        endpoint = self._store.endpoint(message.endpoint_id)
        event = self._store.event(message.event_id)
        if endpoint is None or event is None:
            return Outcome("gone")  # endpoint removed, or the event past its retention
        lease_until = datetime.fromtimestamp(now.timestamp() + self.policy.lease_seconds, tz=now.tzinfo)
        if not self._store.claim(message, now=now, lease_until=lease_until):
            return Outcome("stale")
        if not endpoint.enabled:
            self._store.record(message, status=DeliveryStatus.SKIPPED, now=now, status_code=None,
                               error="endpoint_disabled")  # fmt: skip
            return Outcome("skipped")
        body = event.body.encode()
        timestamp = int(now.timestamp())
        headers = {
            "content-type": "application/json",
            "user-agent": "leonardo-backend-webhooks/1",
            "webhook-id": event.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(self._keys.active(endpoint, now), event.event_id,
                                                  timestamp, body),
        }  # fmt: skip
        result = self._sender.post(endpoint.url, body, headers)
        if result.ok:
            self._store.record(message, status=DeliveryStatus.DELIVERED, now=now,
                               status_code=result.status_code, error=None)  # fmt: skip
            if endpoint.failing_since is not None or endpoint.failed_events:
                self._store.endpoint_succeeded(endpoint.endpoint_id)
            return Outcome("delivered")
        return self._failed(message, endpoint, result, now)

    def _failed(
        self, message: DeliveryMessage, endpoint: Endpoint, result: SendResult, now: datetime
    ) -> Outcome:
        code = result.status_code
        error = result.error or (f"http_{code}" if code else None)
        if code == 410:  # Gone: the receiver asks us to stop (the spec)
            self._store.record(message, status=DeliveryStatus.FAILED, now=now, status_code=code, error=error)
            disabled = self._store.disable(endpoint.endpoint_id, reason="gone_410", now=now)
            return Outcome("disabled", endpoint.endpoint_id if disabled else None)
        exhausted = message.attempt >= self.policy.max_attempts
        if exhausted:
            self._store.record(message, status=DeliveryStatus.FAILED, now=now, status_code=code, error=error)
            outcome = "failed"
        else:
            key = f"{message.event_id}|{message.endpoint_id}|{message.round}"
            delay = self.policy.delay_after(message.attempt, key=key, retry_after=result.retry_after)
            following = replace(message, attempt=message.attempt + 1, not_before=now.timestamp() + delay)
            # Enqueued before it is recorded: a crash in between leaves the delivery DELIVERING,
            # so the next message is refused its claim and this one, redelivered, tries again.
            self._queue.send(following, delay_seconds=min(SQS_MAX_DELAY, delay))
            next_at = datetime.fromtimestamp(following.not_before, tz=now.tzinfo)
            self._store.record(message, status=DeliveryStatus.PENDING, now=now, status_code=code, error=error,
                               next_attempt_at=next_at)  # fmt: skip
            outcome = "retry_scheduled"
        standing = self._store.endpoint_failed(endpoint.endpoint_id, now=now, exhausted=exhausted)
        reason = self._give_up_reason(standing, now)
        if reason and self._store.disable(endpoint.endpoint_id, reason=reason, now=now):
            return Outcome(outcome, endpoint.endpoint_id)
        return Outcome(outcome)

    def _give_up_reason(self, endpoint: Endpoint | None, now: datetime) -> str | None:
        if endpoint is None or not endpoint.enabled:
            return None
        if endpoint.failed_events >= self.policy.disable_after_failed_events:
            return f"{endpoint.failed_events}_events_failed"
        since = endpoint.failing_since
        if since is not None and now.timestamp() - since >= self.policy.disable_after_seconds:
            return "failing_too_long"
        return None
