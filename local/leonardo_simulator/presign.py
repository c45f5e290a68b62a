"""Presigned POST details in the shape S3 hands out, and their verification.

Leonardo answers POST /init-image with S3's presigned-POST fields: the object
key, its Content-Type, a base64 JSON policy (expiry, pinned fields and a
content-length-range) and a signature over that policy. Real S3 signs with
SigV4 (a key derived from a secret, date, region and service); the simulator
signs the base64 policy with one HMAC-SHA256 key of its own. The policy rules
checked on upload are S3's: the signature must match, the policy must not
have expired, every condition must hold, and every form field must be named
by a condition.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from .views import iso

BUCKET = "leonardo-sim-init-images"
ALGORITHM = "AWS4-HMAC-SHA256"
# Form fields a policy need not name (S3: the policy, the signature, the file, x-ignore-*).
_EXEMPT = frozenset({"policy", "x-amz-signature", "file"})


class S3Error(Exception):
    """An S3 error answer: status, `<Code>`, `<Message>` and any extra elements."""

    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def _access_denied(message: str) -> S3Error:
    return S3Error(403, "AccessDenied", message)


def sign(policy: str, key: bytes) -> str:
    return hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()


def presigned_fields(
    object_key: str, content_type: str, max_bytes: int, now: datetime, lifetime: float, signing_key: bytes
) -> dict[str, str]:
    """The `fields` of a presigned POST, in the order Leonardo lists them."""
    credential = f"SIMULATOR/{now:%Y%m%d}/us-east-1/s3/aws4_request"
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    policy = {
        "expiration": iso(now + timedelta(seconds=lifetime)),
        "conditions": [
            {"bucket": BUCKET},
            {"key": object_key},
            {"Content-Type": content_type},
            ["content-length-range", 1, max_bytes],
            {"x-amz-algorithm": ALGORITHM},
            {"x-amz-credential": credential},
            {"x-amz-date": amz_date},
        ],
    }
    encoded = base64.b64encode(json.dumps(policy, separators=(",", ":")).encode()).decode()
    return {
        "Content-Type": content_type,
        "bucket": BUCKET,
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": credential,
        "X-Amz-Date": amz_date,
        "key": object_key,
        "Policy": encoded,
        "X-Amz-Signature": sign(encoded, signing_key),
    }


def _decode(encoded: str) -> dict[str, Any]:
    try:
        policy = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from None
    if not isinstance(policy, dict) or not isinstance(policy.get("conditions"), list):
        raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'conditions' section.")
    return policy


def _expired(policy: dict[str, Any], now: datetime) -> bool:
    try:
        expiration = datetime.fromisoformat(str(policy.get("expiration")))
    except ValueError:
        raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value.") from None
    return now >= expiration


def verify(fields: dict[str, str], signing_key: bytes, now: datetime) -> tuple[int, int]:
    """Check the form fields (names lower-cased) against their signed policy and
    return its content-length-range; raise S3Error on any failure."""
    encoded, signature = fields.get("policy"), fields.get("x-amz-signature")
    if not encoded or not signature:
        raise _access_denied("Access Denied")
    if not hmac.compare_digest(sign(encoded, signing_key).encode(), signature.encode()):
        raise S3Error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    policy = _decode(encoded)
    if _expired(policy, now):
        raise _access_denied("Invalid according to Policy: Policy expired.")
    size_range = (0, 5 * 1024**3)  # S3's single-POST ceiling when the policy sets none
    named: set[str] = set()
    for condition in policy["conditions"]:
        if isinstance(condition, list) and condition[:1] == ["content-length-range"]:
            size_range = (int(condition[1]), int(condition[2]))
            continue
        if not isinstance(condition, dict) or len(condition) != 1:
            raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'conditions' section.")
        [(name, expected)] = condition.items()
        named.add(name.lower())
        # The bucket comes from the URL; a `bucket` form field is optional.
        actual = fields.get(name.lower(), BUCKET if name.lower() == "bucket" else None)
        if actual != expected:
            raise _access_denied(
                f'Invalid according to Policy: Policy Condition failed: ["eq", "${name}", "{expected}"]'
            )
    extra = sorted(n for n in fields if n not in named | _EXEMPT and not n.startswith("x-ignore-"))
    if extra:
        raise _access_denied(f"Invalid according to Policy: Extra input fields: {extra[0]}")
    return size_range
