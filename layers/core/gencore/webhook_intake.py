"""The webhook's intake: verify Leonardo's bearer token, keep the callback's secret-free facts,
queue them for the processor, and answer fast.

The webhook is the one function whose cold start Leonardo waits on, so this path loads neither
pydantic nor Powertools' Event Handler (docs/performance.md: at most 1.2x `import boto3,
aws_lambda_powertools`). It reads its settings from the environment itself (the names are
Settings' own, see settings.py; LEONARDO_CALLBACK_CIDRS is the webhook's alone), parses with
gencore.leonardo.callbacks (standard library only), and writes the processor's message in
GenerationEvent's JSON shape (a test pins the two together).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress  # boto3 loads it anyway: no cost at init
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from gencore.clients import aws  # boto3 at init, as the runtime ships it: the first callback waits less
from gencore.leonardo.callbacks import CallbackError, parse_callback

MAX_GENERATION_ID = 64  # GenerationEvent.generation_id's limit


@dataclass(frozen=True)
class IntakeSettings:
    webhook_secret: str
    events_queue_url: str
    max_body_bytes: int = 256 * 1024
    secret_cache_seconds: int = 300
    # Where callbacks may come from (Leonardo's documented egress addresses, docs/security.md), as
    # CIDRs; empty: from anywhere (the bearer token alone decides).
    callback_sources: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IntakeSettings:
        cidrs = (env.get("LEONARDO_CALLBACK_CIDRS") or "").split(",")
        return cls(
            webhook_secret=env["WEBHOOK_SECRET"],
            events_queue_url=env["EVENTS_QUEUE_URL"],
            max_body_bytes=int(env.get("WEBHOOK_MAX_BODY_BYTES") or 256 * 1024),
            secret_cache_seconds=int(env.get("SECRET_CACHE_SECONDS") or 300),
            callback_sources=tuple(c.strip() for c in cidrs if c.strip()),
        )


class KeyUnavailable(Exception):
    """The webhook key cannot be read: callbacks are refused (fail closed)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    generation_id: str | None = None
    outcome: str = ""  # accepted | ignored | rejected | forbidden | refused | unavailable


def _error(status: int, code: str, message: str, outcome: str) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}}, outcome=outcome)


def authorized(header: str | None, expected: str) -> bool:
    scheme, _, token = (header or "").partition(" ")
    # Both sides as bytes so compare_digest stays constant-time for any input.
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """The allowed sources; a malformed entry stops the function at init (never an open door)."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def source_allowed(source_ip: str | None, allowed: tuple[Network, ...]) -> bool:
    """With no networks configured every source is allowed; otherwise a missing or malformed
    address, or one outside them all, is not."""
    if not allowed:
        return True
    try:
        address = ipaddress.ip_address((source_ip or "").strip())
    except ValueError:
        return False
    return any(address in network for network in allowed)


class WebhookIntake:
    def __init__(self, settings: IntakeSettings, key: Callable[[], str], send: Callable[[str], None]) -> None:
        self._settings, self._key, self._send = settings, key, send
        self._sources = networks(settings.callback_sources)

    def handle(
        self,
        authorization: str | None,
        body: str | None,
        *,
        base64_encoded: bool,
        source_ip: str | None = None,
    ) -> Answer:
        """`source_ip`: the caller's address as API Gateway saw it (requestContext.http.sourceIp)."""
        if not source_allowed(source_ip, self._sources):
            return _error(
                403, "forbidden_source", "Callbacks are not accepted from this address", "forbidden"
            )
        try:
            expected = self._key()
        except KeyUnavailable:
            return _error(503, "webhook_unavailable", "Webhook verification is unavailable", "unavailable")
        if not authorized(authorization, expected):
            return _error(401, "unauthorized", "Missing or invalid bearer token", "rejected")
        # The raw bytes: a base64 body that is not UTF-8 is answered as malformed JSON, never a 500.
        try:
            raw = base64.b64decode(body or "", validate=False) if base64_encoded else (body or "").encode()
        except (binascii.Error, ValueError):
            return _error(400, "malformed_json", "callback body is not valid JSON", "refused")
        if len(raw) > self._settings.max_body_bytes:
            return _error(413, "payload_too_large", "The callback body is too large", "refused")
        try:
            callback = parse_callback(raw)
        except CallbackError as error:
            return _error(400, error.code, error.message, "refused")
        if len(callback.generation_id) > MAX_GENERATION_ID:
            return _error(400, "invalid_payload", "The callback is outside the accepted limits", "refused")
        if callback.status == "PENDING":  # nothing to do until it is terminal
            return Answer(202, {"status": "ignored"}, callback.generation_id, "ignored")
        # Only what names the event: the processor takes status, outputs and cost from Leonardo's
        # own record, never from a callback (whose sender is proven only by the shared key).
        message: dict[str, Any] = {
            "source": "webhook",
            "event_type": callback.event_type,
            "generation_id": callback.generation_id,
            "status": callback.status,
            "images": [],
            "api_credit_cost": None,
        }
        self._send(json.dumps(message, separators=(",", ":")))
        return Answer(202, {"status": "accepted"}, callback.generation_id, "accepted")


@cache
def intake() -> WebhookIntake:
    """Built once per cold start; the key and the queue client are fetched on first use."""
    settings = IntakeSettings.from_env(os.environ)

    def key() -> str:
        from gencore.adapters.secrets import SecretMissing, secret_field

        try:
            return secret_field(settings.webhook_secret, "webhook_key", max_age=settings.secret_cache_seconds)
        except SecretMissing as missing:
            raise KeyUnavailable(str(missing)) from missing

    def send(body: str) -> None:
        aws("sqs").send_message(QueueUrl=settings.events_queue_url, MessageBody=body)

    return WebhookIntake(settings, key, send)
