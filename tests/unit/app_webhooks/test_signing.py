"""Outbound webhooks' signatures and secrets: the Standard Webhooks scheme, rotation's overlap."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from gencore.domain.app_webhooks.signing import (
    InvalidSecret,
    SecretDocument,
    new_secret,
    sign,
    signature_header,
)
from tests.support.app_webhooks import T0

pytestmark = pytest.mark.unit


def test_signature_matches_the_specifications_test_vector():
    # The vector of the standard-webhooks reference libraries (Python and JavaScript test suites).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_generated_secret_signs_what_the_standardwebhooks_package_verifies():
    secret, body = new_secret(), b'{"type":"generation.completed"}'
    timestamp = int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": "job-1:COMPLETE",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header([secret], "job-1:COMPLETE", timestamp, body),
    }
    assert Webhook(secret).verify(body, headers) == {"type": "generation.completed"}


def test_a_generated_secret_is_whsec_and_32_random_bytes():
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_during_a_rotations_overlap_both_secrets_sign_and_either_verifies():
    # Given a rotated secret document, inside its overlap window
    old = SecretDocument(new_secret())
    rotated = old.rotated(T0, overlap_seconds=3600)
    active = rotated.active(T0 + timedelta(minutes=59))
    assert active == [rotated.current, old.current]
    # When a delivery is signed with both
    now = int(datetime.now(UTC).timestamp())
    header = signature_header(active, "e1", now, b"{}")
    # Then the header carries two v1 signatures, and a receiver on either secret verifies it
    assert len(header.split(" ")) == 2 and all(part.startswith("v1,") for part in header.split(" "))
    for secret in (old.current, rotated.current):
        Webhook(secret).verify(
            b"{}", {"webhook-id": "e1", "webhook-timestamp": str(now), "webhook-signature": header}
        )
    # And after the overlap only the new one signs
    assert rotated.active(T0 + timedelta(hours=1, seconds=1)) == [rotated.current]


def test_a_rotation_without_overlap_drops_the_old_secret_at_once():
    rotated = SecretDocument(new_secret()).rotated(T0, overlap_seconds=0)
    assert rotated.previous is None and rotated.active(T0) == [rotated.current]


@pytest.mark.parametrize("bad", ["", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!"])
def test_a_secret_that_is_not_whsec_base64_is_refused(bad):
    with pytest.raises(InvalidSecret):
        sign(bad, "e1", 1, b"{}")


def test_no_secret_no_signature():
    with pytest.raises(InvalidSecret):
        signature_header([], "e1", 1, b"{}")


def test_a_secret_document_round_trips_through_json():
    doc = SecretDocument(new_secret()).rotated(T0, overlap_seconds=60)
    assert SecretDocument.from_json(doc.to_json()) == doc
