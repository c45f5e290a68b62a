"""Webhook parsing keeps an allow-list of fields and never echoes the body."""

import copy
import json
from pathlib import Path

import pytest
import yaml

from gencore.leonardo.callbacks import CallbackError, CallbackEvent, CallbackImage, parse_callback

pytestmark = pytest.mark.unit

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "leonardo"
SECRETS = ("super-secret-webhook-key", "production-api-key-value", "ef8b8386-94f7-48d1-b10e-e87fd4dee6e6")


def _sample() -> dict:
    """The published sample, with recognisable secrets planted where Leonardo puts key material."""
    spec = yaml.safe_load((SHARED / "webhooks-asyncapi.yml").read_text())
    payload = copy.deepcopy(
        spec["components"]["messages"]["ImageGenerationComplete"]["examples"][0]["payload"]
    )
    generation = payload["data"]["object"]
    generation["id"] = "a1b2c3d4-e5f6-4789-abcd-ef1234567890"
    generation["apiKey"]["webhookCallbackApiKey"] = SECRETS[0]
    generation["apiKey"]["key"] = SECRETS[1]
    generation["apiCreditCost"] = 0.024
    return payload


def _body(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def test_published_sample_parses_to_a_minimal_event():
    event = parse_callback(_body(_sample()))
    assert event.event_type == "image_generation.complete"
    assert event.generation_id == "a1b2c3d4-e5f6-4789-abcd-ef1234567890"
    assert event.status == "COMPLETE"
    assert event.timestamp == 1699490546932
    assert event.api_credit_cost == pytest.approx(0.024)
    assert len(event.images) == 1
    assert event.images[0].url.startswith("https://cdn.leonardo.ai/")
    assert event.images[0].nsfw is False


def test_everything_else_is_dropped():
    event = parse_callback(_body(_sample()))
    message = json.dumps(event.to_message())
    for secret in SECRETS:
        assert secret not in message
        assert secret not in repr(event)
    assert set(event.to_message()) == {
        "event_type",
        "generation_id",
        "status",
        "images",
        "api_credit_cost",
        "timestamp",
    }
    assert set(event.to_message()["images"][0]) == {"id", "url", "nsfw"}


def test_message_round_trip():
    event = parse_callback(_body(_sample()))
    message = event.to_message()
    assert json.loads(json.dumps(message)) == message  # JSON-safe
    assert CallbackEvent.from_message(message) == event


def test_cost_is_optional():
    payload = _sample()
    del payload["data"]["object"]["apiCreditCost"]
    assert parse_callback(_body(payload)).api_credit_cost is None


def test_event_can_be_built_directly():
    event = CallbackEvent(
        event_type="image_generation.complete",
        generation_id="g",
        status="FAILED",
        images=[CallbackImage(id="i", url="u", nsfw=True)],
        timestamp=1,
    )
    assert CallbackEvent.from_message(event.to_message()) == event


@pytest.mark.parametrize("body", [b"", b"{not json", b"\xff\xfe", b"[1,"])
def test_malformed_json(body):
    with pytest.raises(CallbackError) as caught:
        parse_callback(body)
    assert caught.value.code == "malformed_json"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def _without(path: str) -> dict:
    payload = _sample()
    *parents, leaf = path.split(".")
    node = payload
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node.pop(leaf)
    return payload


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        "a string",
        _without("type"),
        _without("timestamp"),
        _without("api_version"),
        _without("data"),
        _without("data.object.id"),
        _without("data.object.status"),
        _without("data.object.images.0.url"),
        _without("data.object.images.0.nsfw"),
        {**_sample(), "object": "dataset"},
        {**_sample(), "timestamp": "yesterday"},
    ],
)
def test_invalid_payload_does_not_echo_the_body(payload):
    with pytest.raises(CallbackError) as caught:
        parse_callback(json.dumps(payload).encode())
    err = caught.value
    assert err.code == "invalid_payload"
    for secret in SECRETS:
        assert secret not in str(err) and secret not in repr(err)
    assert "cdn.leonardo.ai" not in str(err)
    assert err.__cause__ is None


def test_bad_status_value_is_reported_by_location_only():
    payload = _sample()
    payload["data"]["object"]["status"] = SECRETS[0]
    with pytest.raises(CallbackError) as caught:
        parse_callback(_body(payload))
    assert "data.object.status" in str(caught.value)
    assert SECRETS[0] not in str(caught.value)
