"""The webhook's source-address check (docs/security.md, callback sources): off by default; when
LEONARDO_CALLBACK_CIDRS is set, a callback from any other address is answered 403 before its token is
looked at, and nothing is queued."""

from __future__ import annotations

import json

import pytest

from gencore.webhook_intake import IntakeSettings, WebhookIntake, networks, source_allowed
from tests.support.template import load_template

pytestmark = pytest.mark.unit
KEY = "hook-key-7f3a"
# Leonardo's documented egress addresses (../shared/leonardo/webhooks-asyncapi.yml, from its webhook guide)
LEONARDO = (
    "35.173.108.170",
    "34.239.69.60",
    "52.73.75.186",
    "3.229.99.26",
    "44.218.0.197",
    "174.129.230.221",
)
CALLBACK = json.dumps({
    "type": "image_generation.complete", "object": "generation", "timestamp": 1699490546932,
    "api_version": "v1",
    "data": {"object": {"id": "a1b2c3d4-e5f6-4789-abcd-ef1234567890", "status": "COMPLETE", "images": []}},
})  # fmt: skip


def intake(cidrs: tuple[str, ...], sent: list[str]) -> WebhookIntake:
    settings = IntakeSettings("arn:secret", "https://sqs/events", callback_sources=cidrs)
    return WebhookIntake(settings, lambda: KEY, sent.append)


def test_without_configured_sources_any_address_is_heard():
    sent: list[str] = []
    answer = intake((), sent).handle(
        f"Bearer {KEY}", CALLBACK, base64_encoded=False, source_ip="198.51.100.7"
    )
    assert answer.status == 202 and len(sent) == 1


@pytest.mark.parametrize("source", LEONARDO)
def test_leonardos_documented_addresses_are_heard(source):
    sent: list[str] = []
    cidrs = tuple(f"{address}/32" for address in LEONARDO)
    answer = intake(cidrs, sent).handle(f"Bearer {KEY}", CALLBACK, base64_encoded=False, source_ip=source)
    assert answer.status == 202 and len(sent) == 1


@pytest.mark.parametrize("source", ["198.51.100.7", "35.173.108.171", "", None, "not-an-ip", "::1"])
def test_any_other_source_is_403_even_with_the_right_token(source):
    sent: list[str] = []
    cidrs = tuple(f"{address}/32" for address in LEONARDO)
    answer = intake(cidrs, sent).handle(f"Bearer {KEY}", CALLBACK, base64_encoded=False, source_ip=source)
    assert (answer.status, answer.body["error"]["code"], answer.outcome) == (
        403,
        "forbidden_source",
        "forbidden",
    )
    assert sent == []


def test_the_address_is_checked_before_the_key_is_read():
    def unreadable() -> str:
        raise AssertionError("the key was read for a stranger")

    settings = IntakeSettings("arn:secret", "https://sqs/events", callback_sources=("10.0.0.0/8",))
    answer = WebhookIntake(settings, unreadable, []).handle(
        None, "{}", base64_encoded=False, source_ip="1.2.3.4"
    )
    assert answer.status == 403


def test_ranges_and_ipv6_are_accepted():
    allowed = networks(("203.0.113.0/24", "2001:db8::/32"))
    assert source_allowed("203.0.113.200", allowed) and source_allowed("2001:db8::1", allowed)
    assert not source_allowed("203.0.114.1", allowed)


def test_a_malformed_cidr_stops_the_function_rather_than_opening_it():
    settings = IntakeSettings.from_env(
        {"WEBHOOK_SECRET": "s", "EVENTS_QUEUE_URL": "q", "LEONARDO_CALLBACK_CIDRS": "no"}
    )
    with pytest.raises(ValueError):
        WebhookIntake(settings, lambda: KEY, [].append)


def test_the_setting_is_read_from_the_environment_comma_separated():
    env = {
        "WEBHOOK_SECRET": "s",
        "EVENTS_QUEUE_URL": "q",
        "LEONARDO_CALLBACK_CIDRS": " 1.2.3.4/32, 10.0.0.0/8 ,",
    }
    assert IntakeSettings.from_env(env).callback_sources == ("1.2.3.4/32", "10.0.0.0/8")
    assert IntakeSettings.from_env({"WEBHOOK_SECRET": "s", "EVENTS_QUEUE_URL": "q"}).callback_sources == ()


def test_the_template_passes_the_parameter_to_the_webhook_only_and_leaves_it_off_by_default():
    template = load_template()
    parameter = template["Parameters"]["LeonardoCallbackCidrs"]
    assert parameter["Default"] == ""
    webhook = template["Resources"]["WebhookFunction"]["Properties"]["Environment"]["Variables"]
    assert webhook["LEONARDO_CALLBACK_CIDRS"] == {"Ref": "LeonardoCallbackCidrs"}
