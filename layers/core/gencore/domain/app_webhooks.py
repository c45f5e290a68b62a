"""Outbound webhooks to apps, after the Standard Webhooks specification (docs/webhooks.md).

An operator registers an app's endpoint (URL, event types, a secret we generate). Each completion
event published on the bus is stored once and fanned out to the subscribed endpoints; each delivery
is signed (`webhook-id` = the event id, stable across retries and replays; `webhook-timestamp`;
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per active secret),
POSTed once per attempt, and retried on a schedule spanning days. An endpoint failing for too long,
or answering 410 Gone, is disabled.

Exactly one chain of attempts runs per (event, endpoint, round): an attempt is claimed with a
conditional write on the delivery's attempt counter, so a repeated or stale queue message is
dropped, and a crashed attempt is taken over once its lease has run out. A replay starts a new
round. Delivery is at least once: receivers drop repeats by `webhook-id`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
SECRET_BYTES = 32  # the spec allows 24 to 64
# The bus's detail-types an endpoint may subscribe to (docs/webhooks.md, "Events").
EVENT_TYPES = ("Generation Completed", "Generation Failed", "Generation Cancelled", "Batch Completed")
EVENT_SOURCE = "leonardo-backend"
SQS_MAX_DELAY = 900  # SQS DelaySeconds caps at 15 minutes: longer waits are re-enqueued


# ----- secrets and signatures ----------------------------------------------------------------------


class InvalidSecret(ValueError):
    pass


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret; anything else is refused (fail closed)."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret("a signing secret starts with whsec_")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("a signing secret is whsec_ and base64") from None
    if not key:
        raise InvalidSecret("a signing secret may not be empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `{msg_id}.{timestamp}.{body}` (Standard Webhooks, symmetric)."""
    if "." in msg_id:  # the spec: neither id nor timestamp may hold the delimiter
        raise ValueError("a webhook id may not contain '.'")
    content = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(active: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Space-separated signatures, one per active secret (both during a rotation's overlap)."""
    if not active:
        raise InvalidSecret("no signing secret")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in active)


@dataclass(frozen=True)
class SecretDocument:
    """What Secrets Manager holds for one endpoint: the current secret and, during a rotation's
    overlap, the previous one with the time it stops signing."""

    current: str
    previous: str | None = None
    previous_until: float | None = None  # epoch seconds

    def active(self, now: datetime) -> list[str]:
        keys = [self.current]
        if self.previous and self.previous_until and now.timestamp() < self.previous_until:
            keys.append(self.previous)
        return keys

    def rotated(self, now: datetime, overlap_seconds: int) -> SecretDocument:
        until = now.timestamp() + overlap_seconds if overlap_seconds > 0 else None
        return SecretDocument(new_secret(), self.current if until else None, until)

    def to_json(self) -> str:
        doc: dict[str, object] = {"current": self.current}
        if self.previous:
            doc |= {"previous": self.previous, "previous_until": self.previous_until}
        return json.dumps(doc)

    @classmethod
    def from_json(cls, text: str) -> SecretDocument:
        doc = json.loads(text)
        if not isinstance(doc, dict) or not isinstance(doc.get("current"), str):
            raise InvalidSecret("the endpoint's secret has no current value")
        secret_key(doc["current"])
        return cls(doc["current"], doc.get("previous"), doc.get("previous_until"))


# ----- where we may send: the SSRF rules ------------------------------------------------------------


class UrlRefused(ValueError):
    def __init__(self, message: str, code: str = "url_refused") -> None:
        super().__init__(message)
        self.code = code


# Ranges Python's ipaddress does not already treat as non-global, or that embed another address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def address_refusal(address: str, *, allow_loopback: bool = False) -> str | None:
    """Why we would not send to this IP address, or None for a public unicast address.

    Refused: loopback, private, shared (CGNAT), link-local (cloud metadata at 169.254.169.254 and
    fe80::/10), unique-local, multicast, unspecified, reserved and documentation ranges, for IPv4
    and IPv6, and IPv6 forms that carry an IPv4 address (mapped, 6to4, Teredo, NAT64) judged by
    that address. `allow_loopback` (the local stack only) lets loopback through, nothing else.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone id (fe80::1%eth0) changes nothing
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip.teredo:
            embedded = ip.teredo[1]
        if embedded is None and (ip in _NAT64 or ip in _NAT64_LOCAL):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_refusal(str(embedded), allow_loopback=allow_loopback)
            return f"embeds {embedded}: {inner}" if inner else None
    if ip.is_loopback:
        return None if allow_loopback else "loopback"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("site-local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
        ("not globally reachable", not ip.is_global),
    )
    return next((reason for reason, hit in checks if hit), None)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, no brackets
    port: int
    is_ip: bool


def check_url(url: str, *, allow_loopback: bool = False) -> Target:
    """The static rules for an endpoint URL: https, a host, no credentials, and if the host is an IP
    literal, a public one. A name is resolved and checked at every delivery (DNS can change)."""
    if len(url) > 2048:
        raise UrlRefused("the URL is longer than 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("not a valid URL") from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("the URL carries credentials")
    is_ip = _is_ip(host)
    loopback = is_ip and ipaddress.ip_address(host).is_loopback
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_loopback and loopback):
        raise UrlRefused("only https endpoints are allowed", code="url_not_https")
    if is_ip and (reason := address_refusal(host, allow_loopback=allow_loopback)):
        raise UrlRefused(f"{host} is not a public address ({reason})", code="address_refused")
    if not is_ip and (host in ("localhost", "localhost.localdomain") or host.endswith(".localhost")):
        raise UrlRefused("localhost is not a public address", code="address_refused")
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), is_ip)


def check_addresses(addresses: Sequence[str], *, allow_loopback: bool = False) -> None:
    """Every address a name resolves to must be public: one private answer refuses the lot."""
    if not addresses:
        raise UrlRefused("the host resolves to no address", code="dns_failed")
    for address in addresses:
        if reason := address_refusal(address, allow_loopback=allow_loopback):
            raise UrlRefused(f"the host resolves to {address} ({reason})", code="address_refused")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# ----- the retry schedule and when an endpoint is given up on ----------------------------------------

# Standard Webhooks' example schedule: after the first attempt, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
# 14 h, 20 h and 24 h (about 3 days in all).
DEFAULT_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


def parse_schedule(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(",") if part.strip())
    if any(v < 0 for v in values):
        raise ValueError("retry delays are seconds >= 0")
    return values


@dataclass(frozen=True)
class DeliveryPolicy:
    schedule: tuple[int, ...] = DEFAULT_SCHEDULE  # delay after attempt n (1-based) = schedule[n-1]
    jitter: float = 0.1  # +-10%, so a receiver's recovery is not met by every retry at once
    max_retry_after: int = 86400  # a receiver's Retry-After is honoured up to this
    # An endpoint is disabled after this many events in a row exhausted their retries, or after
    # failing without a single success for this long (whichever comes first), or on 410 Gone.
    disable_after_failed_events: int = 5
    disable_after_seconds: int = 3 * 86400
    lease_seconds: int = 120  # a claimed attempt not recorded by then may be taken over
    event_retention_seconds: int = 30 * 86400  # events and delivery logs kept for replay

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    def delay_after(self, attempt: int, *, key: str, retry_after: float | None = None) -> int:
        """Seconds to wait after failed attempt `attempt`; the jitter is fixed per key and attempt."""
        base = self.schedule[attempt - 1]
        spread = int.from_bytes(hashlib.sha256(f"{key}:{attempt}".encode()).digest()[:4]) / 0xFFFFFFFF
        delay = base * (1 + self.jitter * (2 * spread - 1))
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return max(0, math.ceil(delay))


# ----- records --------------------------------------------------------------------------------------


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


# ----- ports ---------------------------------------------------------------------------------------


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


# ----- the use case ---------------------------------------------------------------------------------


class NotAnEvent(ValueError):
    """A bus event without the fields every completion event carries."""


def payload_type(detail_type: str) -> str:
    """`Generation Completed` -> `generation.completed` (the spec's dotted event type)."""
    return ".".join(detail_type.strip().lower().split(" ", 1)).replace(" ", "_")


def event_from_bus(envelope: dict[str, Any]) -> StoredEvent:
    """The body we deliver for one EventBridge event: {type, timestamp, data: detail}."""
    detail, detail_type = envelope.get("detail"), envelope.get("detail-type")
    if not isinstance(detail, dict) or not isinstance(detail_type, str):
        raise NotAnEvent("no detail-type or detail")
    event_id = detail.get("event_id")
    if not isinstance(event_id, str) or not event_id or "." in event_id or len(event_id) > 200:
        raise NotAnEvent("detail.event_id missing or unusable as a webhook id")
    occurred_at = str(envelope.get("time") or detail.get("finished_at") or "")
    body = {"type": payload_type(detail_type), "timestamp": occurred_at, "data": detail}
    return StoredEvent(event_id, detail_type, occurred_at, json.dumps(body, separators=(",", ":")))


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
