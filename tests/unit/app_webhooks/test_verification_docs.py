"""The verification snippets apps are given (docs/webhooks.md, README) accept our deliveries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gencore.domain.app_webhooks.signing import new_secret, signature_header

pytestmark = pytest.mark.unit


def _python_blocks(path: str) -> list[str]:
    from pathlib import Path

    text = Path(path).read_text()
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


def test_the_documented_by_hand_verification_accepts_our_deliveries_and_refuses_tampering():
    # Given the by-hand snippet of docs/webhooks.md and a delivery signed during a rotation
    namespace: dict = {}
    exec(_python_blocks("docs/webhooks.md")[1], namespace)  # noqa: S102 - our own documentation
    verify = namespace["verify"]
    old, new = new_secret(), new_secret()
    body, now = b'{"type":"generation.completed","data":{"job_id":"j1"}}', int(datetime.now(UTC).timestamp())
    headers = {"webhook-id": "j1:COMPLETE", "webhook-timestamp": str(now),
               "webhook-signature": signature_header([new, old], "j1:COMPLETE", now, body)}  # fmt: skip
    # Then either secret verifies it
    assert verify(new, headers, body)["data"]["job_id"] == "j1"
    assert verify(old, headers, body)["type"] == "generation.completed"
    # And a changed body, another secret or a stale timestamp do not
    with pytest.raises(ValueError):
        verify(new, headers, body.replace(b"j1", b"j2"))
    with pytest.raises(ValueError):
        verify(new_secret(), headers, body)
    stale = headers | {"webhook-timestamp": str(now - 600)}
    stale["webhook-signature"] = signature_header([new], "j1:COMPLETE", now - 600, body)
    with pytest.raises(ValueError):
        verify(new, stale, body)


def test_the_documented_package_verification_accepts_our_deliveries():
    secret, body, now = new_secret(), b'{"type":"generation.failed"}', int(datetime.now(UTC).timestamp())
    headers = {"webhook-id": "j1:FAILED", "webhook-timestamp": str(now),
               "webhook-signature": signature_header([secret], "j1:FAILED", now, body)}  # fmt: skip
    namespace = {"secret": secret, "raw_body": body, "headers": headers}
    exec(_python_blocks("docs/webhooks.md")[0], namespace)  # noqa: S102 - our own documentation
    assert namespace["event"] == {"type": "generation.failed"}
