"""Leonardo's realtime canvas routes (leonardo/realtime.py), read as a specification: each call is
synchronous and paid, sent once in Leonardo's names; an answer that does not say what happened (a
read timeout after sending, a 5xx, an unreadable or incomplete 2xx) is OutcomeUnknownError, never
resent; a 429 is a refusal; a body outside the document's ranges is refused before sending."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gencore.leonardo import OutcomeUnknownError, RetryableError
from tests.support.scripted import Answer

pytestmark = pytest.mark.unit
SKETCH = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQEASABIAAD/2w=="
MASK = "data:image/png;base64,iVBORw0KGgo="
OUT = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ=="
JOB = {"lcmGenerationJob": {"imageDataUrl": [OUT], "requestTimestamp": "1", "apiCreditCost": 1}}

CALLS = {
    "/generations-lcm": {
        "imageDataUrl": SKETCH,
        "prompt": "a fox",
        "strength": 0.6,
        "steps": 6,
        "width": 512,
    },
    "/lcm-instant-refine": {"imageDataUrl": SKETCH, "prompt": "a fox", "guidance": 7.5},
    "/lcm-inpainting": {"imageDataUrl": SKETCH, "maskDataUrl": MASK, "prompt": "a hat", "style": "ANIME"},
    "/lcm-upscale": {
        "imageDataUrl": SKETCH,
        "prompt": "a fox",
        "refineCreative": True,
        "refineStrength": 0.7,
    },
}
UNKNOWN = {
    "read timeout after sending": lambda: Answer(200, JOB, delay=1.0),
    "502 after sending": lambda: Answer(502, {"error": "bad gateway"}),
    "500 after sending": lambda: Answer(500, {"error": "boom"}),
    "truncated 200": lambda: Answer(200, '{"lcmGenerationJob": {"imageDataUrl": ["data:ima'),
    "200 without the answer": lambda: Answer(200, {"unexpected": True}),
    "200 without a picture": lambda: Answer(200, {"lcmGenerationJob": {"imageDataUrl": []}}),
}


@pytest.mark.parametrize("route", sorted(CALLS))
def test_a_realtime_call_is_sent_once_in_leonardos_names_and_answers_its_pictures(server, make_client, route):
    server.add(Answer(200, JOB))
    job = make_client().realtime(route, CALLS[route])
    assert len(server.received) == 1 and server.received[0].path.endswith(route)
    assert server.received[0].json() == CALLS[route]
    assert job.image_data_url == [OUT] and job.cost is not None and job.cost.amount == 1


@pytest.mark.parametrize("outcome", sorted(UNKNOWN))
@pytest.mark.parametrize("route", sorted(CALLS))
def test_an_answer_that_does_not_say_what_happened_is_never_resent(
    server, make_client, sleeps, route, outcome
):
    server.add(UNKNOWN[outcome](), Answer(200, JOB))
    with pytest.raises(OutcomeUnknownError):
        make_client(read_timeout=0.2).realtime(route, CALLS[route])
    assert len(server.received) == 1 and sleeps.calls == []


@pytest.mark.parametrize("route", sorted(CALLS))
def test_a_429_is_a_refusal_nothing_was_done(server, make_client, route):
    server.add(Answer(429, {"error": "slow down"}, headers={"Retry-After": "1"}), Answer(200, JOB))
    with pytest.raises(RetryableError) as refused:
        make_client().realtime(route, CALLS[route])
    assert not isinstance(refused.value, OutcomeUnknownError) and len(server.received) == 1


@pytest.mark.parametrize(
    ("route", "change"),
    [
        ("/generations-lcm", {"width": 768}),  # 512, 640 or 1024
        ("/generations-lcm", {"steps": 17}),  # 4 to 16
        ("/lcm-instant-refine", {"strength": 0.05}),  # 0.1 to 1
        ("/lcm-instant-refine", {"guidance": 21}),  # 0.5 to 20
        ("/lcm-upscale", {"refineStrength": 0.95}),  # 0.5 to 0.9
        ("/lcm-inpainting", {"maskDataUrl": None}),  # the mask is required there
        ("/generations-lcm", {"style": "WATERCOLOR"}),
    ],
)
def test_a_body_outside_the_document_is_refused_before_anything_is_sent(server, make_client, route, change):
    body = {k: v for k, v in (CALLS[route] | change).items() if v is not None}
    with pytest.raises(ValidationError):
        make_client().realtime(route, body)
    assert server.received == []
