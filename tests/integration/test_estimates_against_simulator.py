"""Our estimate table against the Leonardo simulator: for every job the pricing calculator covers,
the table says what the calculator answers, and what creating the job charges; the client's
`pricing_calculator` against the simulator; the refresh through the real gateway."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gencore.adapters.leonardo import LeonardoGateway
from gencore.domain.errors import LeonardoRejected
from gencore.domain.estimates import (
    VARIATION_CREDITS,
    CachedPrice,
    Estimator,
    PricingQuery,
    pricing_query,
    refresh_prices,
    table_credits,
)
from gencore.domain.kinds import Refs, kind_of
from gencore.domain.requests import ImageGenerationRequest
from gencore.leonardo import LeonardoClient, PermanentError
from gencore.leonardo.models import GenerationRequest
from leonardo_simulator import SimulatorConfig, serve_in_thread
from leonardo_simulator.catalog import PLATFORM_MODELS
from tests.simulator.helpers import wait_for

pytestmark = pytest.mark.integration

API_KEY = "k"
NOW = datetime(2026, 12, 4, tzinfo=UTC)
CREATIVE = "6bef9f1b-29cb-40c7-b9df-32b51c1f67d3"
KINO_XL = "aa77f04e-3eec-4034-9c07-d0f619684628"


@pytest.fixture(scope="module")
def sim():
    with serve_in_thread(SimulatorConfig(api_key=API_KEY, pending_seconds=0.05, port=0)) as handle:
        yield handle


@pytest.fixture
def client(sim):
    with LeonardoClient(base_url=sim.base_url, api_key=API_KEY) as client:
        yield client


def job(**fields) -> dict:
    return ImageGenerationRequest.model_validate({"prompt": "a lake at dawn"} | fields).normalized()


def covered_jobs() -> dict[str, dict]:
    """Every model of the simulator's catalogue at several sizes and counts, and each option the
    table prices apart (alchemy, photoReal v1 and v2, prompt magic v2 and v3)."""
    jobs: dict[str, dict] = {}
    sizes = [(64, 64), (512, 512), (1024, 768), (1024, 1024), (832, 1024)]
    for model, (width, height), count in itertools.product(PLATFORM_MODELS, sizes, (1, 4)):
        jobs[f"{model.name} {width}x{height} x{count}"] = job(
            model_id=model.id, width=width, height=height, num_images=count
        )
    jobs |= {
        "SD 2.1 without alchemy, 8 images": job(model_id=CREATIVE, alchemy=False, width=512, height=512,
                                                num_images=8),
        "SD 2.1 + PM v2": job(model_id=CREATIVE, alchemy=False, prompt_magic=True, prompt_magic_version="v2"),
        "SD 2.1 + PM v3 + alchemy": job(model_id=CREATIVE, alchemy=True, prompt_magic=True,
                                        prompt_magic_version="v3", width=640, height=640, num_images=6),
        "photoReal v1": job(photo_real=True, alchemy=True, width=768, height=768, num_images=2),
        "photoReal v2 on Kino XL": job(model_id=KINO_XL, photo_real=True, photo_real_version="v2",
                                       alchemy=True, width=1024, height=576),
        "steps, high resolution, an element": job(num_inference_steps=40, high_resolution=True,
                                                  elements=[{"id": "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"}]),
    }  # fmt: skip
    return jobs


COVERED = covered_jobs()


@pytest.mark.parametrize("name", sorted(COVERED))
def test_the_table_says_what_the_simulators_calculator_answers(client, name):
    for kind in ("text_to_image", "image_to_image", "edit", "inpaint"):
        query = pricing_query(COVERED[name], kind)
        assert query is not None
        assert client.pricing_calculator(query.service, query.params) == table_credits(COVERED[name], kind)


@pytest.mark.parametrize("name", sorted(COVERED))
def test_the_table_says_what_creating_the_job_charges(client, name):
    call = kind_of("text_to_image").build(COVERED[name], Refs(), 7)
    started = client.create_generation(GenerationRequest.model_validate(call.body))
    assert Decimal(str(started.api_credit_cost)) == table_credits(COVERED[name], "text_to_image")


def test_variations_charge_what_the_table_says(client):
    started = client.create_generation(GenerationRequest(prompt="a lake", width=64, height=64, num_images=1))
    image = wait_for(lambda: client.get_generation(started.generation_id).generated_images)[0]
    charged = {
        "upscale": client.create_upscale(image.id).api_credit_cost,
        "unzoom": client.create_unzoom(image.id).api_credit_cost,
        "no_background": client.create_no_background(image.id).api_credit_cost,
        "universal_upscale": client.create_universal_upscale(generated_image_id=image.id).api_credit_cost,
    }
    assert charged == VARIATION_CREDITS


def test_the_client_reads_the_simulators_answer_in_dollars(start_client):
    client = start_client(cost_unit="DOLLARS")
    query = pricing_query(job(width=1024, height=1024, num_images=4), "text_to_image")
    assert client.pricing_calculator(query.service, query.params) == Decimal("0.048")


def test_parameters_the_simulator_refuses_are_a_permanent_error(client):
    with pytest.raises(PermanentError) as refused:
        client.pricing_calculator("UNIVERSAL_UPSCALER", {"megapixel": 21})
    assert refused.value.status == 400


class MemoryCache:
    def __init__(self) -> None:
        self.prices: dict[str, CachedPrice] = {}
        self.wants: dict[str, PricingQuery] = {}

    def get(self, key):
        return self.prices.get(key)

    def want(self, query, now):
        self.wants.setdefault(query.key, query)

    def wanted(self, limit):
        return list(self.wants.values())[:limit]

    def save(self, query, price):
        self.prices[query.key] = price
        self.wants.pop(query.key, None)


def test_a_miss_is_priced_by_the_refresh_through_the_gateway_and_then_answered_from_the_cache(sim):
    gateway = LeonardoGateway(lambda fresh_key=False: LeonardoClient(base_url=sim.base_url, api_key=API_KEY))
    cache = MemoryCache()
    request = job(model_id=KINO_XL, width=768, height=768, num_images=2)
    before = Estimator(cache, lambda: NOW).estimate(request, "text_to_image")
    calls = sim.stats()["requests"].get("POST /api/rest/v1/pricing-calculator", 0)
    report = refresh_prices(cache, gateway, lambda: NOW)
    after = Estimator(cache, lambda: NOW).estimate(request, "text_to_image")
    assert (before.source, after.source, report.priced) == ("table", "pricing_calculator", 1)
    assert after.amount == before.amount
    assert sim.stats()["requests"]["POST /api/rest/v1/pricing-calculator"] == calls + 1


def test_the_gateway_reports_parameters_leonardo_refuses_as_rejected(sim):
    gateway = LeonardoGateway(lambda fresh_key=False: LeonardoClient(base_url=sim.base_url, api_key=API_KEY))
    with pytest.raises(LeonardoRejected):
        gateway.price("UNIVERSAL_UPSCALER", {"megapixel": 21})
    with pytest.raises(LeonardoRejected):
        gateway.price("IMAGE_GENERATION", {"imageWidth": 1536, "imageHeight": 512, "numImages": 1})


@pytest.fixture
def start_client():
    from contextlib import ExitStack

    with ExitStack() as stack:

        def start(**overrides) -> LeonardoClient:
            config = SimulatorConfig(api_key=API_KEY, pending_seconds=0.05, **overrides)
            handle = stack.enter_context(serve_in_thread(config))
            return stack.enter_context(LeonardoClient(base_url=handle.base_url, api_key=API_KEY))

        yield start
