"""The paid image tools (variations, prompt tools), read as a specification: each is sent once.
An answer that does not say what happened (a read timeout after sending, a 5xx, an unreadable or
incomplete 2xx) is OutcomeUnknownError, never retried; a 429 is a refusal (nothing was done)."""

from __future__ import annotations

import pytest

from gencore.leonardo import OutcomeUnknownError, RetryableError
from gencore.leonardo.tools import UniversalUpscaleRequest
from tests.support.scripted import Answer

pytestmark = pytest.mark.unit
IMAGE = "d3e4f5a6-b7c8-4d9e-8f01-234567890abc"
VARIATION_ID = "c2d3e4f5-a6b7-4c89-9012-3456789abcde"

UNIVERSAL = UniversalUpscaleRequest(generated_image_id=IMAGE, creativity_strength=4)

# name -> (how to call it, the route, a good answer)
PAID = {
    "upscale": (lambda c: c.create_upscale(IMAGE), "/variations/upscale",
                {"sdUpscaleJob": {"id": VARIATION_ID, "apiCreditCost": 5}}),
    "unzoom": (lambda c: c.create_unzoom(IMAGE, is_variation=True), "/variations/unzoom",
               {"sdUnzoomJob": {"id": VARIATION_ID, "apiCreditCost": 5}}),
    "no_background": (lambda c: c.create_no_background(IMAGE), "/variations/nobg",
                      {"sdNobgJob": {"id": VARIATION_ID, "apiCreditCost": 5}}),
    "universal_upscale": (
        lambda c: c.create_universal_upscale(UNIVERSAL),
        "/variations/universal-upscaler",
        {"universalUpscaler": {"id": VARIATION_ID, "apiCreditCost": None,
                               "cost": {"amount": "0.0147", "unit": "DOLLARS"}}},
    ),
    "improve_prompt": (lambda c: c.improve_prompt("a fox", "in snow"), "/prompt/improve",
                       {"promptGeneration": {"prompt": "a fox in snow, detailed", "apiCreditCost": 4}}),
    "random_prompt": (lambda c: c.random_prompt(), "/prompt/random",
                      {"promptGeneration": {"prompt": "a dragon", "apiCreditCost": 4}}),
}  # fmt: skip
UNKNOWN = {
    "read timeout after sending": lambda good: Answer(200, good, delay=1.0),
    "502 after sending": lambda good: Answer(502, {"error": "bad gateway"}),
    "500 after sending": lambda good: Answer(500, {"error": "boom"}),
    "truncated 200": lambda good: Answer(200, '{"sdUpscaleJob": {"id": "c2d3'),
    "200 without the answer": lambda good: Answer(200, {"unexpected": True}),
}


@pytest.mark.parametrize("name", sorted(PAID))
def test_a_paid_tool_is_sent_once_to_its_route_in_leonardos_names(server, make_client, sleeps, name):
    call, route, good = PAID[name]
    server.add(Answer(200, good))
    answer = call(make_client())
    assert len(server.received) == 1 and server.received[0].path.endswith(route)
    assert server.received[0].method == "POST"
    if name == "unzoom":
        assert server.received[0].json() == {"id": IMAGE, "isVariation": True}
    if name == "universal_upscale":
        assert server.received[0].json() == {"generatedImageId": IMAGE, "creativityStrength": 4}
        assert answer.cost.unit == "DOLLARS" and answer.api_credit_cost is None


@pytest.mark.parametrize("outcome", sorted(UNKNOWN))
@pytest.mark.parametrize("name", sorted(PAID))
def test_an_answer_that_does_not_say_what_happened_is_never_resent(
    server, make_client, sleeps, name, outcome
):
    call, _, good = PAID[name]
    server.add(UNKNOWN[outcome](good), Answer(200, good))
    with pytest.raises(OutcomeUnknownError):
        call(make_client(read_timeout=0.2))
    assert len(server.received) == 1 and sleeps.calls == []


@pytest.mark.parametrize("name", sorted(PAID))
def test_a_429_is_a_refusal_nothing_was_done(server, make_client, sleeps, name):
    call, _, good = PAID[name]
    server.add(Answer(429, {"error": "slow down"}, headers={"Retry-After": "2"}), Answer(200, good))
    with pytest.raises(RetryableError) as refused:
        call(make_client())
    assert not isinstance(refused.value, OutcomeUnknownError) and refused.value.retry_after == 2.0
    assert len(server.received) == 1
