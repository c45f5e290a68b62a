"""The webhook's intake, read as a specification (gencore/webhook_intake.py): fail closed without
the key, refuse a wrong token in constant time, queue only a terminal callback's secret-free facts,
in the exact shape the processor reads (GenerationEvent)."""

from __future__ import annotations

import base64
import json

import pytest

from gencore.domain.models import GenerationEvent
from gencore.webhook_intake import IntakeSettings, KeyUnavailable, WebhookIntake

pytestmark = pytest.mark.unit
KEY = "hook-key-7f3a"
IMAGE = {"id": "img-1", "url": "https://cdn.leonardo.ai/x.png", "nsfw": False}
SETTINGS = IntakeSettings(
    webhook_secret="arn:secret", events_queue_url="https://sqs/events", max_body_bytes=4096
)


def callback(status: str = "COMPLETE", generation_id: str = "a1b2c3d4-e5f6-4789-abcd-ef1234567890") -> str:
    return json.dumps({
        "type": "image_generation.complete", "object": "generation", "timestamp": 1699490546932,
        "api_version": "v1",
        "data": {"object": {"id": generation_id, "status": status, "apiKey": {"key": "secret-api-key"},
                            "images": [IMAGE]}},
    })  # fmt: skip


class Sent(list):
    def __call__(self, body: str) -> None:
        self.append(body)


def intake(sent: Sent, key=lambda: KEY) -> WebhookIntake:
    return WebhookIntake(SETTINGS, key, sent)


def test_a_terminal_callback_is_queued_in_the_processors_shape_and_nothing_else():
    sent = Sent()
    answer = intake(sent).handle(f"Bearer {KEY}", callback(), base64_encoded=False)
    assert (answer.status, answer.body, answer.outcome) == (202, {"status": "accepted"}, "accepted")
    [body] = sent
    event = GenerationEvent.model_validate_json(body)  # the processor's own parse
    assert event == GenerationEvent(
        source="webhook", event_type="image_generation.complete",
        generation_id="a1b2c3d4-e5f6-4789-abcd-ef1234567890", status="COMPLETE",
    )  # fmt: skip
    assert (
        "secret-api-key" not in body and "cdn.leonardo.ai" not in body
    )  # outputs come from Leonardo's record


def test_without_the_key_every_callback_is_refused():
    def missing() -> str:
        raise KeyUnavailable("secret webhook_key unavailable")

    sent = Sent()
    answer = intake(sent, missing).handle(f"Bearer {KEY}", callback(), base64_encoded=False)
    assert answer.status == 503 and answer.body["error"]["code"] == "webhook_unavailable" and sent == []


@pytest.mark.parametrize("header", [None, "", KEY, f"Basic {KEY}", f"Bearer {KEY}x", f"Bearer {KEY.upper()}"])
def test_a_missing_or_wrong_token_is_401_and_queues_nothing(header):
    sent = Sent()
    answer = intake(sent).handle(header, callback(), base64_encoded=False)
    assert answer.status == 401 and answer.body["error"]["code"] == "unauthorized" and sent == []


@pytest.mark.parametrize(
    ("body", "base64_encoded", "status", "code"),
    [
        ("x" * 5000, False, 413, "payload_too_large"),
        ("{not json", False, 400, "malformed_json"),
        (base64.b64encode(b"\xff\xfe\x00").decode(), True, 400, "malformed_json"),
        (callback(generation_id="g" * 65), False, 400, "invalid_payload"),
        (json.dumps({"type": "image_generation.complete"}), False, 400, "invalid_payload"),
    ],
    ids=["too large", "not JSON", "not UTF-8", "generation id too long", "no envelope"],
)
def test_bodies_we_cannot_trust_are_refused_with_a_stable_code(body, base64_encoded, status, code):
    sent = Sent()
    answer = intake(sent).handle(f"Bearer {KEY}", body, base64_encoded=base64_encoded)
    assert (answer.status, answer.body["error"]["code"]) == (status, code) and sent == []


def test_a_pending_callback_is_acknowledged_and_ignored():
    sent = Sent()
    answer = intake(sent).handle(f"Bearer {KEY}", callback("PENDING"), base64_encoded=False)
    assert (answer.status, answer.body) == (202, {"status": "ignored"}) and sent == []


def test_settings_are_read_from_the_same_variables_as_everyone_elses():
    env = {"WEBHOOK_SECRET": "arn:s", "EVENTS_QUEUE_URL": "https://q", "WEBHOOK_MAX_BODY_BYTES": "1024"}
    assert IntakeSettings.from_env(env) == IntakeSettings("arn:s", "https://q", 1024, 300)
    from gencore.settings import Settings

    fields = Settings.model_fields
    assert {"webhook_secret", "events_queue_url", "webhook_max_body_bytes", "secret_cache_seconds"} <= set(
        fields
    )
