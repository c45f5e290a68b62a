"""Each Leonardo route the client calls, read as a specification over an httpx.MockTransport that
counts what reaches Leonardo.

A paid POST (a generation, the four variations, the two prompt tools) is sent once: when its
outcome is unknown (a read timeout or a dropped connection after sending, a 5xx, a 2xx we cannot
read) it raises OutcomeUnknownError and is never resent; when it provably never arrived (connect
failure) or was refused before any work (429) it is a RetryableError, still sent once here (the
caller's queue retries). Free POSTs (upload slots) and reads are retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from gencore.leonardo import (
    LeonardoClient,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RetryableBadResponseError,
    RetryableError,
    RetryPolicy,
)
from gencore.leonardo.models import Cost, GenerationRequest
from gencore.leonardo.tools import UniversalUpscaleRequest

pytestmark = pytest.mark.unit

BASE = "https://leonardo.test/api/rest/v1"
IMAGE = "d3e4f5a6-b7c8-4d9e-8f01-234567890abc"
VARIATION = "c2d3e4f5-a6b7-4c89-9012-3456789abcde"
DOLLARS = {"apiCreditCost": None, "cost": {"amount": "0.0147", "unit": "DOLLARS"}}
SIGNED = json.dumps({"key": "u/1/init.png", "policy": "cG9saWN5", "x-amz-signature": "sig-do-not-log"})
Reply = httpx.Response | Exception


class Leonardo:
    """A scripted Leonardo: answers (or raises) in order, and records every request it received."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.received: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.received.append(request)
        if not self.replies:
            return httpx.Response(418, json={"error": "unexpected extra request"})
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def body(self, index: int = 0) -> Any:
        content = self.received[index].content
        return json.loads(content) if content else None


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client_for(sleeps):
    made: list[LeonardoClient] = []

    def build(leonardo: Leonardo) -> LeonardoClient:
        client = LeonardoClient(
            base_url=BASE,
            api_key="k-secret",
            transport=httpx.MockTransport(leonardo),
            retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02),
            sleep=sleeps.append,
            upload_hosts=("*.amazonaws.com",),
        )
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


# name -> (the call, its route, the body it must send, a good answer)
PAID: dict[str, tuple[Callable[[LeonardoClient], Any], str, Any, dict]] = {
    "generation": (
        lambda c: c.create_generation(GenerationRequest(prompt="a lake", seed=7)),
        "/generations", {"prompt": "a lake", "seed": 7},
        {"sdGenerationJob": {"generationId": "g-1", **DOLLARS}},
    ),
    "upscale": (
        lambda c: c.create_upscale(IMAGE), "/variations/upscale", {"id": IMAGE},
        {"sdUpscaleJob": {"id": VARIATION, **DOLLARS}},
    ),
    "unzoom": (
        lambda c: c.create_unzoom(VARIATION, is_variation=True), "/variations/unzoom",
        {"id": VARIATION, "isVariation": True}, {"sdUnzoomJob": {"id": VARIATION, **DOLLARS}},
    ),
    "no_background": (
        lambda c: c.create_no_background(IMAGE), "/variations/nobg", {"id": IMAGE, "isVariation": False},
        {"sdNobgJob": {"id": VARIATION, **DOLLARS}},
    ),
    "universal_upscale": (
        lambda c: c.create_universal_upscale(generated_image_id=IMAGE, upscaler_style="CINEMATIC",
                                             creativity_strength=4, upscale_multiplier=1.5, prompt="sharper"),
        "/variations/universal-upscaler",
        {"generatedImageId": IMAGE, "upscalerStyle": "CINEMATIC", "creativityStrength": 4,
         "upscaleMultiplier": 1.5, "prompt": "sharper"},
        {"universalUpscaler": {"id": VARIATION, **DOLLARS}},
    ),
    "improve_prompt": (
        lambda c: c.improve_prompt("a fox", "in snow"), "/prompt/improve",
        {"prompt": "a fox", "promptInstructions": "in snow"},
        {"promptGeneration": {"prompt": "a fox in deep snow", **DOLLARS}},
    ),
    "random_prompt": (
        lambda c: c.random_prompt(), "/prompt/random", None,
        {"promptGeneration": {"prompt": "a dragon", **DOLLARS}},
    ),
}  # fmt: skip

SENT = httpx.Request("POST", BASE)
UNKNOWN: dict[str, Callable[[dict], Reply]] = {
    "read timeout after sending": lambda good: httpx.ReadTimeout("timed out", request=SENT),
    "connection dropped after sending": lambda good: httpx.RemoteProtocolError(
        "Server disconnected without sending a response.", request=SENT
    ),
    "connection reset after sending": lambda good: httpx.ReadError("reset by peer", request=SENT),
    "truncated 2xx": lambda good: httpx.Response(200, content=json.dumps(good)[:25].encode()),
    "2xx that is not JSON": lambda good: httpx.Response(200, text="<html>gateway</html>"),
    "2xx without the answer": lambda good: ok({next(iter(good)): None}),
    "500": lambda good: httpx.Response(500, json={"error": "boom"}),
    "502": lambda good: httpx.Response(502, text="bad gateway"),
    "503": lambda good: httpx.Response(503, headers={"Retry-After": "3"}),
    "504": lambda good: httpx.Response(504, text="gateway timeout"),
}


@pytest.mark.parametrize("name", sorted(PAID))
def test_a_paid_call_sends_its_documented_body_once_and_reads_its_cost(client_for, name):
    call, route, body, good = PAID[name]
    leonardo = Leonardo(ok(good))
    answer = call(client_for(leonardo))
    [request] = leonardo.received
    assert (request.method, request.url.path) == ("POST", f"/api/rest/v1{route}")
    assert leonardo.body() == body
    assert answer.cost == Cost(amount=Decimal("0.0147"), unit="DOLLARS") and answer.api_credit_cost is None


@pytest.mark.parametrize("outcome", sorted(UNKNOWN))
@pytest.mark.parametrize("name", sorted(PAID))
def test_a_paid_call_whose_outcome_is_unknown_is_never_resent(client_for, sleeps, name, outcome):
    call, _, _, good = PAID[name]
    leonardo = Leonardo(UNKNOWN[outcome](good), ok(good))
    with pytest.raises(OutcomeUnknownError) as unknown:
        call(client_for(leonardo))
    assert len(leonardo.received) == 1 and sleeps == []
    assert not unknown.value.retryable


@pytest.mark.parametrize("name", sorted(PAID))
def test_a_429_is_a_refusal_before_any_work(client_for, sleeps, name):
    call, _, _, good = PAID[name]
    leonardo = Leonardo(httpx.Response(429, headers={"Retry-After": "2"}), ok(good))
    with pytest.raises(RateLimitedError) as refused:
        call(client_for(leonardo))
    assert refused.value.retryable and refused.value.retry_after == 2.0
    assert not isinstance(refused.value, OutcomeUnknownError)
    assert len(leonardo.received) == 1 and sleeps == []  # the caller's queue decides when to retry


@pytest.mark.parametrize("name", sorted(PAID))
def test_a_paid_call_that_never_connected_is_retryable(client_for, name):
    call, _, _, good = PAID[name]
    leonardo = Leonardo(httpx.ConnectError("refused", request=SENT), ok(good))
    with pytest.raises(RetryableError) as never_sent:
        call(client_for(leonardo))
    assert not isinstance(never_sent.value, OutcomeUnknownError)
    assert len(leonardo.received) == 1


def test_the_upscale_answer_is_read_under_the_name_of_the_documented_example(client_for):
    leonardo = Leonardo(ok({"sdUpscalerjob": {"id": VARIATION, **DOLLARS}}))
    assert client_for(leonardo).create_upscale(IMAGE).id == VARIATION


def test_an_unreadable_cost_does_not_make_a_paid_answer_unknown(client_for):
    leonardo = Leonardo(ok({"sdNobgJob": {"id": VARIATION, "apiCreditCost": "?", "cost": {"amount": "?"}}}))
    job = client_for(leonardo).create_no_background(IMAGE)
    assert (job.id, job.cost) == (VARIATION, None)


# -- universal upscaler options ------------------------------------------------


def test_universal_upscale_takes_a_built_request_too(client_for):
    leonardo = Leonardo(ok({"universalUpscaler": {"id": VARIATION, "apiCreditCost": 5}}))
    request = UniversalUpscaleRequest(variation_id=VARIATION, ultra_upscale_style="REALISTIC", similarity=3)
    job = client_for(leonardo).create_universal_upscale(request)
    assert leonardo.body() == {"variationId": VARIATION, "ultraUpscaleStyle": "REALISTIC", "similarity": 3}
    assert job.cost == Cost(amount=Decimal(5), unit="CREDITS")


@pytest.mark.parametrize(
    "options",
    [
        {},  # no image
        {"generated_image_id": IMAGE, "init_image_id": IMAGE},  # two images
        {"init_image_id": IMAGE, "creativity_strength": 11},  # out of the documented range
        {"init_image_id": IMAGE, "upscale_multiplier": 2.5},
        {"init_image_id": IMAGE, "upscaler_style": "OIL PAINT"},
    ],
)
def test_an_impossible_universal_upscale_is_refused_before_anything_is_sent(client_for, options):
    leonardo = Leonardo()
    with pytest.raises(ValidationError):
        client_for(leonardo).create_universal_upscale(**options)
    assert leonardo.received == []


def test_a_request_and_loose_options_together_are_refused(client_for):
    request = UniversalUpscaleRequest(init_image_id=IMAGE)
    with pytest.raises(ValueError, match="not both"):
        client_for(Leonardo()).create_universal_upscale(request, prompt="p")


# -- reads ---------------------------------------------------------------------


def test_a_variation_is_read_from_its_list_of_one(client_for):
    item = {"id": VARIATION, "status": "COMPLETE", "url": "https://cdn.leonardo.ai/v.png",
            "transformType": "UPSCALE", "createdAt": "2026-05-25T14:22:01.000"}  # fmt: skip
    leonardo = Leonardo(ok({"generated_image_variation_generic": [item]}))
    variation = client_for(leonardo).get_variation(VARIATION)
    assert (variation.id, variation.status, variation.url, variation.transform_type) == (
        VARIATION,
        "COMPLETE",
        "https://cdn.leonardo.ai/v.png",
        "UPSCALE",
    )
    assert leonardo.received[0].url.path == f"/api/rest/v1/variations/{VARIATION}"


def test_a_pending_variation_has_no_url_yet(client_for):
    item = {"id": VARIATION, "status": "PENDING", "url": None, "transformType": "NOBG"}
    variation = client_for(Leonardo(ok({"generated_image_variation_generic": [item]}))).get_variation(
        VARIATION
    )
    assert (variation.status, variation.url) == ("PENDING", None)


def test_an_unknown_variation_is_not_found(client_for):
    with pytest.raises(NotFoundError):
        client_for(Leonardo(ok({"generated_image_variation_generic": []}))).get_variation(VARIATION)


def test_deleting_a_generation_returns_its_id(client_for):
    leonardo = Leonardo(ok({"delete_generations_by_pk": {"id": "g-1"}}))
    assert client_for(leonardo).delete_generation("g-1") == "g-1"
    assert (leonardo.received[0].method, leonardo.received[0].url.path) == (
        "DELETE",
        "/api/rest/v1/generations/g-1",
    )


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(404, json={"error": "not found"}), ok({"delete_generations_by_pk": None})],
    ids=["404", "null"],
)
def test_deleting_a_generation_leonardo_does_not_have_is_not_found_at_once(client_for, sleeps, answer):
    leonardo = Leonardo(answer)
    with pytest.raises(NotFoundError) as missing:
        client_for(leonardo).delete_generation("g-1")
    assert missing.value.code == "leonardo_not_found"
    assert len(leonardo.received) == 1 and sleeps == []


def test_a_delete_that_failed_in_transit_is_asked_again(client_for):
    leonardo = Leonardo(httpx.Response(502), ok({"delete_generations_by_pk": {"id": "g-1"}}))
    assert client_for(leonardo).delete_generation("g-1") == "g-1"
    assert len(leonardo.received) == 2


def test_platform_models_read_every_documented_field(client_for):
    model = {
        "id": "b24e16ff-06e3-43eb-8d33-4416c2d75876",
        "name": "Leonardo Diffusion XL",
        "description": "The next phase of the core Leonardo model.",
        "featured": True,
        "nsfw": False,
        "generated_image": {"id": IMAGE, "url": "https://cdn.leonardo.ai/preview.jpg"},
    }
    [read] = client_for(Leonardo(ok({"custom_models": [model]}))).platform_models()
    assert (read.id, read.name, read.description, read.featured, read.nsfw) == (
        model["id"],
        model["name"],
        model["description"],
        True,
        False,
    )
    assert read.generated_image is not None and read.generated_image.url.endswith("preview.jpg")


# -- prompt tools ----------------------------------------------------------------


def test_improve_prompt_sends_only_what_it_was_given(client_for):
    answer = {"promptGeneration": {"prompt": "a fox, detailed", "apiCreditCost": 4}}
    leonardo = Leonardo(ok(answer), ok(answer))
    client = client_for(leonardo)
    improved = client.improve_prompt("a fox")
    client.improve_prompt("a fox", is_video=True)
    assert [leonardo.body(0), leonardo.body(1)] == [{"prompt": "a fox"}, {"prompt": "a fox", "isVideo": True}]
    assert improved.prompt == "a fox, detailed" and improved.cost == Cost(amount=Decimal(4), unit="CREDITS")


def test_random_prompt_posts_no_body(client_for):
    leonardo = Leonardo(ok({"promptGeneration": {"prompt": "a dragon", "apiCreditCost": 4}}))
    assert client_for(leonardo).random_prompt().prompt == "a dragon"
    assert leonardo.received[0].content == b""


# -- the canvas pair: free, so asked again ---------------------------------------


def canvas_answer(init_fields: str = SIGNED) -> dict:
    return {
        "uploadCanvasInitImage": {
            "initImageId": "ci-1",
            "initFields": init_fields,
            "initKey": "u/1/init.png",
            "initUrl": "https://bucket.s3-accelerate.amazonaws.com",
            "maskImageId": "cm-1",
            "maskFields": SIGNED,
            "maskKey": "u/1/mask.png",
            "maskUrl": "https://bucket.s3-accelerate.amazonaws.com",
        }
    }


def test_a_canvas_pair_is_two_slots_ready_to_post_to(client_for):
    leonardo = Leonardo(ok(canvas_answer()))
    init, mask = client_for(leonardo).upload_canvas_init_image("png", "jpg")
    assert leonardo.body() == {"initExtension": "png", "maskExtension": "jpg"}
    assert (init.id, init.key, mask.id, mask.key) == ("ci-1", "u/1/init.png", "cm-1", "u/1/mask.png")
    assert init.fields["x-amz-signature"] == "sig-do-not-log" and "sig-do-not-log" not in repr(init)


def test_each_canvas_file_goes_by_the_ordinary_send_path(client_for):
    leonardo = Leonardo(ok(canvas_answer()), httpx.Response(204), httpx.Response(204))
    client = client_for(leonardo)
    slots = client.upload_canvas_init_image("png", "png")
    client.send_init_image(slots.init, b"init-bytes", "image/png")
    client.send_init_image(slots.mask, b"mask-bytes", "image/png")
    uploads = leonardo.received[1:]
    assert [u.url.host for u in uploads] == ["bucket.s3-accelerate.amazonaws.com"] * 2
    assert all("authorization" not in u.headers for u in uploads)
    assert b"init-bytes" in uploads[0].content and b"mask-bytes" in uploads[1].content


def test_a_canvas_pair_is_asked_again_after_a_5xx(client_for, sleeps):
    leonardo = Leonardo(httpx.Response(503), ok(canvas_answer()))
    init, _ = client_for(leonardo).upload_canvas_init_image("png", "png")
    assert init.id == "ci-1" and len(leonardo.received) == 2 and len(sleeps) == 1


def test_unusable_canvas_slots_are_a_malformed_answer_that_never_shows_the_signature(client_for):
    leonardo = Leonardo(*[ok(canvas_answer(init_fields="{not json")) for _ in range(3)])
    with pytest.raises(RetryableBadResponseError) as bad:
        client_for(leonardo).upload_canvas_init_image("png", "png")
    assert len(leonardo.received) == 3
    assert bad.value.body is None and "sig-do-not-log" not in str(bad.value)


def test_a_canvas_extension_leonardo_does_not_take_is_refused_locally(client_for):
    leonardo = Leonardo()
    with pytest.raises(ValidationError):
        client_for(leonardo).upload_canvas_init_image("gif", "png")
    assert leonardo.received == []
