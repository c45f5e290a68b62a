"""What the delivery use case needs from outside: the store, the queue, the signing keys, the
HTTP sender (implemented in gencore.adapters.app_webhooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from gencore.domain.app_webhooks.records import Delivery, DeliveryMessage, Endpoint, SendResult, StoredEvent


class AppWebhookStore(Protocol):
    def endpoints(self) -> list[Endpoint]: ...

    def endpoint(self, endpoint_id: str) -> Endpoint | None: ...

    def save_event(self, event: StoredEvent, *, expires_at: int) -> StoredEvent:
        """Store the event unless it is there: return what is stored (a repeat keeps the first body)."""

    def event(self, event_id: str) -> StoredEvent | None: ...

    def mark_fanned_out(self, event_id: str) -> None: ...

    def open_delivery(self, event_id: str, endpoint_id: str, *, now: datetime, expires_at: int) -> Delivery:
        """The delivery log entry, created PENDING (round 0, no attempt) if absent."""

    def claim(self, message: DeliveryMessage, *, now: datetime, lease_until: datetime) -> bool:
        """Take attempt `message.attempt` of its round, if it is the next one, or if a crashed
        holder's lease has run out. False: a repeated or outdated message."""

    def record(
        self, message: DeliveryMessage, *, status: str, now: datetime, status_code: int | None,
        error: str | None, next_attempt_at: datetime | None = None,
    ) -> None: ...  # fmt: skip

    def endpoint_succeeded(self, endpoint_id: str) -> None: ...

    def endpoint_failed(self, endpoint_id: str, *, now: datetime, exhausted: bool) -> Endpoint | None:
        """Note a failed attempt (and an exhausted event): the endpoint as it now stands."""

    def disable(self, endpoint_id: str, *, reason: str, now: datetime) -> bool:
        """True only for the call that moved it from enabled to disabled."""

    def reopen(self, event_id: str, endpoint_id: str, *, now: datetime, expires_at: int) -> Delivery:
        """Start a new round (a replay): PENDING, no attempt, round + 1; created if absent."""


class DeliveryQueue(Protocol):
    def send(self, message: DeliveryMessage, *, delay_seconds: int) -> None: ...


class SigningKeys(Protocol):
    def active(self, endpoint: Endpoint, now: datetime) -> list[str]: ...


class Sender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult: ...
