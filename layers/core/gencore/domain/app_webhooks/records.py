"""The records of outbound webhooks: endpoints, stored events, deliveries and their log, the queue's
message, one attempt's answer and its outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    app: str
    url: str
    events: tuple[str, ...]
    secret_ref: str  # the Secrets Manager secret holding its SecretDocument
    created_at: str
    enabled: bool = True
    secret_version: int = 1  # bumped by a rotation: a warm function re-reads the secret
    disabled_reason: str | None = None
    disabled_at: str | None = None
    failing_since: float | None = None  # epoch seconds of the first failure since the last success
    failed_events: int = 0  # events in a row that exhausted their retries

    def subscribed(self, detail_type: str) -> bool:
        return detail_type in self.events


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    detail_type: str
    occurred_at: str  # ISO 8601, the bus event's time
    body: str  # the exact JSON delivered (and signed)
    fanned_out: bool = False  # every subscribed endpoint's delivery is open and its first attempt sent


class DeliveryStatus:
    PENDING = "pending"  # waiting for its next attempt
    DELIVERING = "delivering"  # an attempt is under way (leased)
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed, or the endpoint answered 410
    SKIPPED = "skipped"  # the endpoint was disabled before the attempt


@dataclass(frozen=True)
class Delivery:
    event_id: str
    endpoint_id: str
    status: str
    round: int = 0  # 0 = published; each replay adds one
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class DeliveryMessage:
    event_id: str
    endpoint_id: str
    attempt: int = 1
    round: int = 0
    not_before: float = 0.0  # epoch seconds; earlier receipts are re-enqueued

    def to_json(self) -> str:
        return json.dumps({"deliver": self.__dict__})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeliveryMessage:
        return cls(
            event_id=str(data["event_id"]), endpoint_id=str(data["endpoint_id"]),
            attempt=int(data["attempt"]), round=int(data.get("round", 0)),
            not_before=float(data.get("not_before", 0.0)),
        )  # fmt: skip


@dataclass(frozen=True)
class SendResult:
    status_code: int | None = None  # None: no HTTP answer (refused, DNS, timeout, connection)
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Outcome:
    name: str  # delivered, retry_scheduled, failed, disabled, skipped, stale, deferred, gone
    disabled_endpoint: str | None = None  # set when this delivery disabled its endpoint
    extra: dict[str, Any] = field(default_factory=dict)
