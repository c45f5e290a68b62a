"""Estimates (domain/estimates.py): a job's price from the cached pricing calculator or our table,
never from Leonardo on the accept path; a miss is recorded and the reconciler's refresh fills it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from gencore.domain.errors import LeonardoBusy, LeonardoRejected
from gencore.domain.estimates import (
    CachedPrice,
    Estimate,
    Estimator,
    PricingQuery,
    pricing_query,
    refresh_prices,
    table_credits,
)
from gencore.domain.requests import ImageGenerationRequest

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LIGHTNING_XL = "b24e16ff-06e3-43eb-8d33-4416c2d75876"
KINO_XL = "aa77f04e-3eec-4034-9c07-d0f619684628"
CREATIVE = "6bef9f1b-29cb-40c7-b9df-32b51c1f67d3"  # SD 2.1
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
FLUX_DEV = "b2614463-296c-462a-9586-aafdb8f00e36"
FLUX_SCHNELL = "1dd50843-d653-4516-a8e3-f0238ee453ff"
LUCID = "05ce0082-2d80-4a2d-8653-4d1c85e2418e"
UNKNOWN_MODEL = "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"


def job(**fields: Any) -> dict:
    """A text-to-image job's stored request, as the API normalizes it."""
    return ImageGenerationRequest.model_validate({"prompt": "a lake at dawn"} | fields).normalized()


class FakePriceCache:
    def __init__(self) -> None:
        self.prices: dict[str, CachedPrice] = {}
        self.wants: dict[str, PricingQuery] = {}
        self.want_calls = 0
        self.reads = 0
        self.failing = False

    def get(self, key: str) -> CachedPrice | None:
        self.reads += 1
        return self.prices.get(key)

    def want(self, query: PricingQuery, now: datetime) -> None:
        self.want_calls += 1
        if self.failing:
            raise RuntimeError("the store is down")
        self.wants.setdefault(query.key, query)

    def wanted(self, limit: int) -> list[PricingQuery]:
        return list(self.wants.values())[:limit]

    def save(self, query: PricingQuery, price: CachedPrice) -> None:
        self.prices[query.key] = price
        self.wants.pop(query.key, None)


class FakeCalculator:
    def __init__(self, *answers: Decimal | Exception | None) -> None:
        self.answers, self.asked = list(answers), []

    def price(self, service: str, params: Mapping[str, Any]) -> Decimal | None:
        self.asked.append((service, dict(params)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


# -- the table: Leonardo's Estimated Pricing Table and Fixed Costs ---------------------------------

PUBLISHED = [
    ("Lightning XL + Alchemy v2", {"model_id": LIGHTNING_XL}, 15, 40),
    ("SDXL (Kino XL) + Alchemy v2", {"model_id": KINO_XL}, 24, 66),
    ("PhotoReal v1 + Alchemy v1", {"photo_real": True, "alchemy": True}, 23, 63),
    ("SD finetune + Alchemy v1", {"model_id": CREATIVE, "alchemy": True}, 16, 44),
    ("Stable Diffusion 2.1", {"model_id": CREATIVE, "alchemy": False}, 7, 12),
    ("SD 2.1 + PM v2", {"model_id": CREATIVE, "alchemy": False, "prompt_magic": True,
                        "prompt_magic_version": "v2"}, 7, 12),
    ("SD 2.1 + PM v3 + Alchemy", {"model_id": CREATIVE, "alchemy": True, "prompt_magic": True,
                                  "prompt_magic_version": "v3"}, 24, 63),
]  # fmt: skip


@pytest.mark.parametrize(("line", "fields", "small", "large"), PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_four_images_cost_what_the_published_table_says(line, fields, small, large):
    at_512 = table_credits(job(width=512, height=512, num_images=4, **fields), "text_to_image")
    at_1024 = table_credits(job(width=1024, height=1024, num_images=4, **fields), "text_to_image")
    assert (at_512, at_1024) == (small, large)


def test_one_to_four_images_cost_what_four_cost_and_more_are_pro_rata():
    prices = [table_credits(job(width=512, height=512, num_images=n), "text_to_image") for n in (1, 3, 4, 8)]
    assert prices == [15, 15, 15, 30]


def test_other_sizes_are_linear_in_pixels_and_rounded_up():
    tiny = table_credits(job(width=64, height=64), "text_to_image")
    landscape = table_credits(job(width=1024, height=768), "text_to_image")
    large = table_credits(job(width=1536, height=1536), "text_to_image")
    assert (tiny, landscape, large) == (7, 32, 82)


def test_an_unset_alchemy_is_leonardos_default_true():
    assert table_credits(job(model_id=CREATIVE, width=512, height=512), "text_to_image") == 16


@pytest.mark.parametrize(
    "fields",
    [{"model_id": PHOENIX}, {"model_id": FLUX_DEV}, {"model_id": LUCID}, {"model_id": UNKNOWN_MODEL},
     {"model_id": PHOENIX, "ultra": True},
     {"model_id": KINO_XL, "photo_real": True, "photo_real_version": "v2"}],
    ids=["Phoenix", "Flux", "Lucid", "an unknown model", "ultra", "photoReal v2"],
)  # fmt: skip
def test_what_the_table_does_not_list_is_priced_at_its_highest_line(fields):
    assert table_credits(job(width=1024, height=1024, **fields), "text_to_image") == 66


@pytest.mark.parametrize("kind", ["image_to_image", "edit", "inpaint", "outpaint", "sketch2img"])
def test_guided_generations_cost_what_the_same_text_to_image_costs(kind):
    assert table_credits(job(width=512, height=512), kind) == table_credits(
        job(width=512, height=512), "text_to_image"
    )


@pytest.mark.parametrize(
    ("kind", "credits"), [("upscale", 15), ("unzoom", 15), ("no_background", 5), ("universal_upscale", 15)]
)
def test_variations_cost_the_fixed_costs(kind, credits):
    assert table_credits({"type": kind, "source": {"job_id": "j", "index": 0}}, kind) == credits


def test_a_kind_without_a_price_is_an_error():
    with pytest.raises(ValueError, match="training"):
        table_credits({}, "training")


# -- the calculator's terms: one query per distinct parameter set ------------------------------------


def test_what_does_not_change_the_price_does_not_change_the_query():
    one = pricing_query(job(prompt="a lake", seed=1, negative_prompt="fog"), "text_to_image")
    other = pricing_query(job(prompt="a castle", seed=99), "edit")
    assert one is not None and one.key == other.key


@pytest.mark.parametrize(
    "change",
    [{"width": 512}, {"num_images": 2}, {"model_id": KINO_XL}, {"alchemy": False, "model_id": CREATIVE},
     {"num_inference_steps": 30}, {"high_resolution": True}],
)  # fmt: skip
def test_what_changes_the_price_changes_the_query(change):
    assert pricing_query(job(**change), "text_to_image").key != pricing_query(job(), "text_to_image").key


def test_a_generation_is_asked_as_image_generation_in_the_schemas_names():
    query = pricing_query(
        job(width=768, height=512, num_images=2, elements=[{"id": UNKNOWN_MODEL}]), "inpaint"
    )
    assert query == PricingQuery(
        service="IMAGE_GENERATION",
        params={"imageWidth": 768, "imageHeight": 512, "numImages": 2, "alchemyMode": True,
                "isSDXLLightning": True, "loraCount": 1},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "flag"),
    [({"model_id": KINO_XL}, "isSDXL"), ({"model_id": PHOENIX}, "isPhoenix"),
     ({"model_id": FLUX_DEV}, "isFluxDev"), ({"model_id": FLUX_SCHNELL}, "isFluxSchnell"),
     ({"model_id": CREATIVE}, None), ({"photo_real": True, "alchemy": True}, None)],
    ids=["SDXL", "Phoenix", "Flux Dev", "Flux Schnell", "SD 2.1: no flag", "photoReal v1: no model"],
)  # fmt: skip
def test_the_model_is_named_by_its_flag(fields, flag):
    params = pricing_query(job(**fields), "text_to_image").params
    assert [name for name in params if name.startswith("is")] == ([flag] if flag else [])


@pytest.mark.parametrize(
    ("request_fields", "kind"),
    [({"width": 1536}, "text_to_image"), ({"model_id": LUCID}, "text_to_image"),
     ({"model_id": UNKNOWN_MODEL}, "text_to_image"), ({}, "upscale"), ({}, "universal_upscale")],
    ids=["a side over 1024", "Lucid (no flag)", "an unknown model", "a variation", "the universal upscaler"],
)  # fmt: skip
def test_what_the_calculator_cannot_price_is_not_asked(request_fields, kind):
    request = job(**request_fields) if kind == "text_to_image" else {"type": kind}
    assert pricing_query(request, kind) is None


# -- the estimator: cache first, then the table; a miss recorded for the reconciler ---------------


def test_a_miss_answers_from_the_table_and_is_recorded_once():
    cache, clock = FakePriceCache(), Clock()
    estimator = Estimator(cache, clock)
    first = estimator.estimate(job(width=512, height=512), "text_to_image")
    estimator.estimate(job(width=512, height=512, prompt="another prompt"), "text_to_image")
    assert first == Estimate(amount=Decimal(15), unit="CREDITS", source="table")
    assert len(cache.wants) == 1 and cache.want_calls == 1 and cache.reads == 1


def test_once_refreshed_the_calculators_answer_is_used():
    cache, clock = FakePriceCache(), Clock()
    Estimator(cache, clock).estimate(job(width=512, height=512), "text_to_image")
    refresh_prices(cache, FakeCalculator(Decimal(17)), clock)
    estimate = Estimator(cache, clock).estimate(job(width=512, height=512), "text_to_image")
    assert estimate == Estimate(amount=Decimal(17), unit="CREDITS", source="pricing_calculator")
    assert cache.wants == {}


def test_a_warm_estimator_reads_the_cache_once_in_a_while():
    cache, clock = FakePriceCache(), Clock()
    estimator = Estimator(cache, clock, memo_seconds=300)
    for _ in range(5):
        estimator.estimate(job(), "text_to_image")
    assert cache.reads == 1


def test_an_answer_in_another_unit_is_not_used():
    cache, clock = FakePriceCache(), Clock()
    query = pricing_query(job(), "text_to_image")
    cache.save(query, CachedPrice(amount=Decimal("0.048"), unit="DOLLARS", priced_at=NOW))
    assert Estimator(cache, clock, unit="CREDITS").estimate(job(), "text_to_image").source == "table"
    dollars = Estimator(cache, clock, unit="DOLLARS").estimate(job(), "text_to_image")
    assert dollars == Estimate(amount=Decimal("0.048"), unit="DOLLARS", source="pricing_calculator")


def test_a_query_without_a_price_answers_from_the_table_and_is_not_asked_again_while_fresh():
    cache, clock = FakePriceCache(), Clock()
    cache.save(pricing_query(job(), "text_to_image"), CachedPrice(amount=None, unit="CREDITS", priced_at=NOW))
    estimate = Estimator(cache, clock).estimate(job(), "text_to_image")
    assert estimate.source == "table" and cache.wants == {}


def test_a_stale_answer_is_still_used_and_asked_again():
    cache, clock = FakePriceCache(), Clock()
    query = pricing_query(job(), "text_to_image")
    cache.save(query, CachedPrice(amount=Decimal(9), unit="CREDITS", priced_at=NOW))
    clock.now = NOW + timedelta(days=8)
    estimate = Estimator(cache, clock, max_age_seconds=7 * 86400).estimate(job(), "text_to_image")
    assert estimate.source == "pricing_calculator" and estimate.amount == 9
    assert list(cache.wants) == [query.key]


def test_a_miss_that_cannot_be_recorded_does_not_fail_the_estimate():
    cache, clock = FakePriceCache(), Clock()
    cache.failing = True
    assert Estimator(cache, clock).estimate(job(), "text_to_image").source == "table"


def test_a_variation_is_estimated_from_the_table_and_nothing_is_recorded():
    cache = FakePriceCache()
    estimate = Estimator(cache, Clock()).estimate({"type": "upscale"}, "upscale")
    assert estimate == Estimate(amount=Decimal(15), unit="CREDITS", source="table")
    assert (cache.reads, cache.want_calls) == (0, 0)


@pytest.mark.parametrize(
    ("estimate", "body"),
    [(Estimate(Decimal(15), "CREDITS", "table"), {"credits": 15, "source": "table"}),
     (Estimate(Decimal("0.048"), "DOLLARS", "pricing_calculator"),
      {"credits": 0.048, "source": "pricing_calculator"})],
)  # fmt: skip
def test_the_estimates_answer_is_credits_and_where_they_came_from(estimate, body):
    assert estimate.as_json() == body


# -- the refresh: the reconciler asks the calculator for what was wanted ---------------------------


def wanted(cache: FakePriceCache, *jobs: dict) -> list[PricingQuery]:
    queries = [pricing_query(j, "text_to_image") for j in jobs]
    for query in queries:
        cache.want(query, NOW)
    return queries


def test_the_refresh_prices_what_was_wanted_in_the_deployments_unit():
    cache, clock = FakePriceCache(), Clock()
    first, second = wanted(cache, job(width=512), job(width=768))
    calculator = FakeCalculator(Decimal(20), Decimal(30))
    report = refresh_prices(cache, calculator, clock, unit="CREDITS")
    assert (report.priced, report.no_price, report.stopped_busy) == (2, 0, False)
    assert calculator.asked == [
        ("IMAGE_GENERATION", dict(first.params)),
        ("IMAGE_GENERATION", dict(second.params)),
    ]
    assert cache.prices[second.key] == CachedPrice(amount=Decimal(30), unit="CREDITS", priced_at=NOW)
    assert cache.wants == {}


def test_the_refresh_asks_at_most_its_limit():
    cache = FakePriceCache()
    wanted(cache, job(width=512), job(width=768), job(width=1024))
    calculator = FakeCalculator(Decimal(1), Decimal(2))
    assert refresh_prices(cache, calculator, Clock(), limit=2).priced == 2
    assert len(cache.wants) == 1


def test_a_busy_calculator_stops_the_refresh_and_keeps_the_rest_wanted():
    cache = FakePriceCache()
    wanted(cache, job(width=512), job(width=768))
    report = refresh_prices(cache, FakeCalculator(Decimal(5), LeonardoBusy("429")), Clock())
    assert (report.priced, report.stopped_busy) == (1, True) and len(cache.wants) == 1


@pytest.mark.parametrize("answer", [LeonardoRejected("400: bad params"), None], ids=["refused", "no price"])
def test_a_query_without_a_price_is_cached_as_such_so_the_table_answers(answer):
    cache, clock = FakePriceCache(), Clock()
    [query] = wanted(cache, job())
    report = refresh_prices(cache, FakeCalculator(answer), clock)
    assert report.no_price == 1 and cache.wants == {}
    assert cache.prices[query.key].amount is None
    assert Estimator(cache, clock).estimate(job(), "text_to_image").source == "table"
