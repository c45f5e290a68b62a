"""Signing secrets (`whsec_<base64>`) and Standard Webhooks signatures; an endpoint's secret
document, with the previous secret kept signing during a rotation's overlap."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
SECRET_BYTES = 32  # the spec allows 24 to 64


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
