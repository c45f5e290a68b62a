"""`LeonardoClient.pricing_calculator`: the schema's request shape, the price read in the account's
unit, and a free call: retried like a GET where a paid POST would be sent once."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from pydantic import ValidationError

from gencore.leonardo import LeonardoClient, RetryableBadResponseError, RetryableError, RetryPolicy

pytestmark = pytest.mark.unit

BASE = "https://leonardo.test/api/rest/v1"
IMAGE = {"imageWidth": 512, "imageHeight": 512, "numImages": 1, "alchemyMode": True, "isSDXLLightning": True}


class Leonardo:
    """Answers in order and records what it received."""

    def __init__(self, *replies: httpx.Response | Exception) -> None:
        self.replies, self.received = list(replies), []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.received.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def client(leonardo: Leonardo) -> LeonardoClient:
    return LeonardoClient(
        base_url=BASE, api_key="k", transport=httpx.MockTransport(leonardo), sleep=lambda _: None,
        retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02),
    )  # fmt: skip


def priced(cost: object) -> httpx.Response:
    return httpx.Response(200, json={"calculateProductionApiServiceCost": {"cost": cost}})


def test_it_sends_the_schemas_shape_and_reads_the_cost():
    leonardo = Leonardo(priced(15))
    with client(leonardo) as c:
        cost = c.pricing_calculator("IMAGE_GENERATION", IMAGE)
    [request] = leonardo.received
    assert (request.method, request.url.path) == ("POST", "/api/rest/v1/pricing-calculator")
    assert json.loads(request.content) == {
        "service": "IMAGE_GENERATION",
        "serviceParams": {"IMAGE_GENERATION": IMAGE},
    }
    assert cost == Decimal(15)


def test_a_fractional_cost_is_read_exactly():
    with client(Leonardo(priced(0.048))) as c:
        assert c.pricing_calculator("IMAGE_GENERATION", IMAGE) == Decimal("0.048")


def test_no_price_is_none():
    answer = httpx.Response(200, json={"calculateProductionApiServiceCost": None})
    with client(Leonardo(answer)) as c:
        assert c.pricing_calculator("IMAGE_GENERATION", IMAGE) is None


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503, json={"error": "busy"}),
        httpx.Response(429, json={"error": "slow down"}),
        httpx.ReadTimeout("timed out", request=httpx.Request("POST", BASE)),
        httpx.Response(200, text='{"calculateProductionApiServiceCo'),
        httpx.Response(200, json={"calculateProductionApiServiceCost": {"cost": -3}}),
    ],
    ids=["5xx", "429", "read timeout after sending", "truncated answer", "a negative cost"],
)
def test_it_spends_nothing_so_a_failed_call_is_asked_again(failure):
    leonardo = Leonardo(failure, priced(24))
    with client(leonardo) as c:
        assert c.pricing_calculator("IMAGE_GENERATION", IMAGE) == Decimal(24)
    assert len(leonardo.received) == 2


def test_it_gives_up_after_the_policys_attempts():
    leonardo = Leonardo(*[httpx.Response(503, json={"error": "busy"})] * 3)
    with client(leonardo) as c, pytest.raises(RetryableError):
        c.pricing_calculator("IMAGE_GENERATION", IMAGE)
    assert len(leonardo.received) == 3


def test_an_answer_that_stays_malformed_is_a_retryable_bad_response():
    leonardo = Leonardo(*[httpx.Response(200, json={"cost": 3})] * 3)
    with client(leonardo) as c, pytest.raises(RetryableBadResponseError):
        c.pricing_calculator("IMAGE_GENERATION", IMAGE)


@pytest.mark.parametrize(
    "params",
    [
        IMAGE | {"imageWidth": 1536},
        IMAGE | {"imageWidth": 1024, "numImages": 6},
        IMAGE | {"inferenceSteps": 5},
        IMAGE | {"width": 512},
        {"imageWidth": 512, "imageHeight": 512},
    ],
    ids=["over 1024", "6 large images", "few steps", "an undocumented name", "no image count"],
)
def test_image_generation_parameters_outside_the_document_are_refused_before_sending(params):
    leonardo = Leonardo()
    with client(leonardo) as c, pytest.raises(ValidationError):
        c.pricing_calculator("IMAGE_GENERATION", params)
    assert leonardo.received == []


def test_other_services_send_their_parameters_as_given():
    leonardo = Leonardo(priced(15))
    with client(leonardo) as c:
        c.pricing_calculator("UNIVERSAL_UPSCALER", {"megapixel": 4})
    assert json.loads(leonardo.received[0].content) == {
        "service": "UNIVERSAL_UPSCALER", "serviceParams": {"UNIVERSAL_UPSCALER": {"megapixel": 4}}
    }  # fmt: skip
