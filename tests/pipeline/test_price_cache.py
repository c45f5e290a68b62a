"""The pricing calculator's cache on the jobs table (adapters/price_cache.py) against moto, filled
by the refresh through the real gateway and the Leonardo simulator: an estimate reads it; nothing
on that path calls Leonardo."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gencore.adapters.leonardo import LeonardoGateway
from gencore.adapters.price_cache import DynamoPriceCache
from gencore.domain.estimates import CachedPrice, Estimator, PricingQuery, pricing_query, refresh_prices
from gencore.domain.requests import ImageGenerationRequest
from gencore.leonardo import LeonardoClient

from .conftest import LEONARDO_KEY

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
QUERY = PricingQuery(
    service="IMAGE_GENERATION", params={"imageWidth": 512, "imageHeight": 512, "numImages": 1}
)


@pytest.fixture
def cache(stack) -> DynamoPriceCache:
    return DynamoPriceCache(stack.aws.client("dynamodb"), stack.env["JOBS_TABLE"])


def calculator_calls(stack) -> int:
    return stack.simulator.stats()["requests"].get("POST /api/rest/v1/pricing-calculator", 0)


def test_an_unknown_key_is_not_cached(cache):
    assert cache.get(QUERY.key) is None


def test_a_query_is_wanted_once_however_often_it_is_missed(cache):
    cache.want(QUERY, NOW)
    cache.want(QUERY, NOW)
    assert cache.wanted(10) == [QUERY]


def test_a_saved_answer_is_read_back_exactly_and_is_no_longer_wanted(cache):
    cache.want(QUERY, NOW)
    cache.save(QUERY, CachedPrice(amount=Decimal("0.048"), unit="DOLLARS", priced_at=NOW))
    assert cache.get(QUERY.key) == CachedPrice(amount=Decimal("0.048"), unit="DOLLARS", priced_at=NOW)
    assert cache.wanted(10) == []


def test_no_price_is_kept_as_such(cache):
    cache.save(QUERY, CachedPrice(amount=None, unit="CREDITS", priced_at=NOW))
    assert cache.get(QUERY.key) == CachedPrice(amount=None, unit="CREDITS", priced_at=NOW)


def test_wanted_reads_at_most_its_limit(cache):
    for width in (256, 512, 768):
        cache.want(PricingQuery("IMAGE_GENERATION", dict(QUERY.params) | {"imageWidth": width}), NOW)
    assert len(cache.wanted(2)) == 2 and len(cache.wanted(10)) == 3


def test_a_miss_is_filled_by_the_refresh_and_then_answered_from_the_cache_without_leonardo(stack, cache):
    request = ImageGenerationRequest(prompt="a lake", width=768, height=512, num_images=2).normalized()
    estimate = Estimator(cache, lambda: NOW).estimate(request, "text_to_image")
    assert estimate.source == "table" and calculator_calls(stack) == 0
    assert cache.wanted(10) == [pricing_query(request, "text_to_image")]

    gateway = LeonardoGateway(
        lambda fresh_key=False: LeonardoClient(base_url=stack.simulator.base_url, api_key=LEONARDO_KEY)
    )
    report = refresh_prices(cache, gateway, lambda: NOW, unit="CREDITS")
    assert (report.priced, calculator_calls(stack)) == (1, 1)

    again = Estimator(cache, lambda: NOW).estimate(request, "text_to_image")
    assert (again.source, again.amount) == ("pricing_calculator", estimate.amount)
    assert calculator_calls(stack) == 1 and cache.wanted(10) == []
