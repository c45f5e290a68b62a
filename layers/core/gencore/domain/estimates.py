"""What a job will cost before it is sent: `POST /v1/estimates`, and the amount a job reserves.

Nothing on the accept path calls Leonardo (DECISIONS.md), so an estimate comes from one of two
places, best first:

1. **Leonardo's pricing calculator, cached** (`source: "pricing_calculator"`): a job's distinct
   parameter set (what changes the price: size, count, model family, alchemy, photoReal, prompt
   magic, steps, elements... never the prompt or the seed) is one `PricingQuery`, keyed by a hash.
   The cache (`PriceCache`) holds Leonardo's answers; a miss is recorded as wanted, and the
   reconciler's `refresh_prices` asks the calculator for the wanted ones later.
2. **Our table** (`source: "table"`): Leonardo's published Estimated Pricing Table and Fixed Costs
   (docs/estimates.md cites each figure), for a miss, and for what the calculator does not cover
   (the variations; sizes over 1024; models we cannot name to it).

The table mirrors the simulator's price list (local/leonardo_simulator/pricing.py, same sources);
tests/integration/test_estimates_against_simulator.py proves the two agree for every job the
calculator covers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal, Protocol

from .errors import LeonardoBusy, LeonardoRejected
from .model_catalog import DEFAULT_MODEL_ID, family_of, model_info
from .policy import Clock
from .video_catalog import clip_seconds

log = logging.getLogger(__name__)

EstimateSource = Literal["pricing_calculator", "table"]
Unit = Literal["CREDITS", "DOLLARS"]
GENERATION_KINDS = frozenset({"text_to_image", "image_to_image", "edit", "inpaint", "outpaint", "sketch2img"})

# -- the table --------------------------------------------------------------------------------

SMALL, LARGE = 512 * 512, 1024 * 1024


@dataclass(frozen=True)
class Row:
    """One line of Leonardo's Estimated Pricing Table: credits for 4 images at 512x512 and 1024x1024."""

    small: int
    large: int


# docs.leonardo.ai/docs/plan-with-the-pricing-calculator, "Estimated Pricing Table".
ROWS: dict[str, Row] = {
    "lightning_xl": Row(15, 40),  # Lightning SDXL Finetune Model + Alchemy v2 (Leonardo Lightning XL)
    "sdxl": Row(24, 66),  # SDXL Finetune Model + Alchemy v2 (Leonardo Diffusion XL)
    "photoreal_v1": Row(23, 63),  # PhotoReal v1 + Alchemy v1
    "sd_alchemy": Row(16, 44),  # SD Finetune Model + Alchemy v1 (DreamShaper v7)
    "sd": Row(7, 12),  # Stable Diffusion 1.5 / 2.1 (also + PM v2)
    "sd_prompt_magic_v3": Row(24, 63),  # Stable Diffusion 1.5 / 2.1 + PM v3 + Alchemy
}
# Ours: what the table does not list (Phoenix, Flux, Lucid, ultra, an unknown model) is priced at
# its highest line, so the estimate errs high; the calculator's answer replaces it once cached.
UNDOCUMENTED = "sdxl"
# Same guide, "Fixed Costs": upscale 15, unzoom 15, remove background 5. The universal upscaler is
# not listed: priced as an upscale (ours).
VARIATION_CREDITS: dict[str, int] = {"upscale": 15, "unzoom": 15, "no_background": 5, "universal_upscale": 15}
_ROW_FAMILY = {"sdxl_lightning": "lightning_xl", "sdxl": "sdxl", "sd15": "sd", "sd21": "sd"}
# Video. "Motion" (the SVD route) is 45 in the same guide's Fixed Costs. The video models are not in
# the guide: ours, per second of clip at 480p times a factor per resolution, the same figures as the
# simulator's price list; the calculator's answer replaces them where it prices the model (Motion 2.0
# and Veo 3), and every job settles at what Leonardo reports.
MOTION_CREDITS = 45
VIDEO_CREDITS_PER_SECOND = {"MOTION2": 20, "MOTION2FAST": 10, "VEO3": 100, "VEO3FAST": 50,
                            "KLING2_1": 40, "KLING2_5": 40}  # fmt: skip
RESOLUTION_FACTOR = {"480p": 1, "720p": 2, "1080p": 3}
VIDEO_KINDS = frozenset({"text_to_video", "image_to_video", "motion"})
# The calculator's services per video model (its document names no other model).
VIDEO_SERVICES = {"MOTION2": "MOTION_VIDEO_GENERATION", "VEO3": "VEO3_MOTION_VIDEO_GENERATION"}


def _setting(request: Mapping[str, Any], name: str, default: Any) -> Any:
    value = request.get(name)
    return default if value is None else value


def _model_id(request: Mapping[str, Any]) -> str | None:
    """The model the job runs on: photoReal v1 none, an unset model Leonardo's default."""
    if _photo_real_v1(request):
        return None
    return request.get("model_id") or DEFAULT_MODEL_ID


def _photo_real_v1(request: Mapping[str, Any]) -> bool:
    return bool(request.get("photo_real")) and request.get("photo_real_version") != "v2"


def table_row(request: Mapping[str, Any]) -> str:
    """The table line a generation is priced by."""
    if _photo_real_v1(request):
        return "photoreal_v1"
    family = _ROW_FAMILY.get(family_of(_model_id(request), request.get("sd_version")).name)
    if family == "sd":
        if request.get("prompt_magic") and request.get("prompt_magic_version") == "v3":
            return "sd_prompt_magic_v3"
        return "sd_alchemy" if _setting(request, "alchemy", True) else "sd"
    return family or UNDOCUMENTED


def generation_credits(row: str, width: int, height: int, num_images: int) -> int:
    """A line's 4-image price at this pixel count (linear through the two published sizes, ours),
    the same for 1 to 4 images (the guide: "The cost of generating 1 image versus multiple images may
    be the same"), pro rata beyond; rounded up to whole credits."""
    prices = ROWS[row]
    per_four = prices.small + Fraction(prices.large - prices.small, LARGE - SMALL) * (width * height - SMALL)
    return max(1, math.ceil(per_four * max(num_images, 4) / 4))


def table_credits(request: Mapping[str, Any], kind: str) -> Decimal:
    """Our table's price of a job (its stored, normalized request) in credits."""
    if kind in VARIATION_CREDITS:
        return Decimal(VARIATION_CREDITS[kind])
    if kind in VIDEO_KINDS:
        return Decimal(video_credits(request, kind))
    if kind not in GENERATION_KINDS:
        raise ValueError(f"no price for a job of kind {kind!r}")
    row = table_row(request)
    width, height = _setting(request, "width", 1024), _setting(request, "height", 1024)
    return Decimal(generation_credits(row, width, height, _setting(request, "num_images", 1)))


def video_credits(request: Mapping[str, Any], kind: str) -> int:
    """Our table's price of a clip (a video job's stored request): see VIDEO_CREDITS_PER_SECOND."""
    if kind == "motion":
        return MOTION_CREDITS
    model = request.get("model") or "MOTION2"
    seconds = clip_seconds(model, request.get("duration"))
    return VIDEO_CREDITS_PER_SECOND[model] * seconds * RESOLUTION_FACTOR[request.get("resolution") or "720p"]


# -- the pricing calculator's terms -----------------------------------------------------------


@dataclass(frozen=True)
class PricingQuery:
    """One question for Leonardo's pricing calculator: a service and its parameters (Leonardo's
    names), keyed by a hash of both, so every job with the same distinct parameters shares it."""

    service: str
    params: Mapping[str, Any] = field(hash=False)

    @property
    def key(self) -> str:
        canonical = json.dumps(
            {"service": self.service, "params": self.params}, sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


_MODEL_FLAG = {"sdxl_lightning": "isSDXLLightning", "sdxl": "isSDXL", "phoenix": "isPhoenix"}
_FLUX_FLAG = {"Flux Dev": "isFluxDev", "Flux Schnell": "isFluxSchnell"}
CALCULATOR_MAX_SIDE = 1024  # the document: imageWidth/imageHeight "between 32 and 1024"


def pricing_query(request: Mapping[str, Any], kind: str) -> PricingQuery | None:
    """What the calculator is asked about a job, or None where it cannot be (a variation: no
    service prices one from what its request holds; a side over 1024; a model we cannot name to it)."""
    if kind in VIDEO_KINDS:
        return _video_query(request, kind)
    if kind not in GENERATION_KINDS:
        return None
    width, height = _setting(request, "width", 1024), _setting(request, "height", 1024)
    if width > CALCULATOR_MAX_SIDE or height > CALCULATOR_MAX_SIDE:
        return None
    params: dict[str, Any] = {
        "imageWidth": width,
        "imageHeight": height,
        "numImages": _setting(request, "num_images", 1),
        "alchemyMode": _setting(request, "alchemy", True),  # Leonardo's default
    }
    if request.get("photo_real"):
        params["photoRealMode"] = True
        params["photoRealVersion"] = request.get("photo_real_version") or "v1"
    if not _photo_real_v1(request):
        model_id = _model_id(request)
        family = family_of(model_id, request.get("sd_version")).name
        info = model_info(model_id)
        flag = _FLUX_FLAG.get(info.name) if family == "flux" and info else _MODEL_FLAG.get(family)
        if flag is None and family not in ("sd15", "sd21"):
            return None  # the calculator has no flag for it (Lucid, an unknown model)
        if flag:
            params[flag] = True
    optional = {
        "photoRealStrength": request.get("photo_real_strength"),
        "promptMagic": request.get("prompt_magic"),
        "promptMagicStrength": request.get("prompt_magic_strength"),
        "promptMagicVersion": request.get("prompt_magic_version"),
        "inferenceSteps": request.get("num_inference_steps"),
        "highResolution": request.get("high_resolution"),
        "isUltra": request.get("ultra"),
        "loraCount": len(request.get("elements") or []) + len(request.get("user_elements") or []) or None,
    }
    params |= {name: value for name, value in optional.items() if value is not None}
    return PricingQuery(service="IMAGE_GENERATION", params=params)


def _video_query(request: Mapping[str, Any], kind: str) -> PricingQuery | None:
    """The calculator's video services: the SVD motion (no parameters), Motion 2.0 at 480p or 720p,
    Veo 3 at 720p; nothing else is priced there (the table answers)."""
    if kind == "motion":
        return PricingQuery(service="MOTION_SVD_GENERATION", params={})
    model, resolution = request.get("model") or "MOTION2", request.get("resolution") or "720p"
    service = VIDEO_SERVICES.get(model)
    allowed = ("480p", "720p") if model == "MOTION2" else ("720p",)
    if service is None or resolution not in allowed or request.get("duration") not in (None, 8):
        return None  # the calculator takes no duration: only a default-length clip is its answer
    return PricingQuery(service=service, params={"resolution": f"RESOLUTION_{resolution.removesuffix('p')}"})


# -- the cache and its refresh ----------------------------------------------------------------


@dataclass(frozen=True)
class CachedPrice:
    """Leonardo's answer for one query: an amount in `unit`, or None when it had no price for it
    (refused, or answered null): the table answers then, and the query is asked again once stale."""

    amount: Decimal | None
    unit: Unit
    priced_at: datetime


class PriceCache(Protocol):
    def get(self, key: str) -> CachedPrice | None: ...

    def want(self, query: PricingQuery, now: datetime) -> None:
        """Record that `query` should be priced (idempotent: one record per key)."""

    def wanted(self, limit: int) -> list[PricingQuery]:
        """Up to `limit` queries waiting to be priced."""

    def save(self, query: PricingQuery, price: CachedPrice) -> None:
        """Store the answer and forget that it was wanted."""


class PricingCalculator(Protocol):
    def price(self, service: str, params: Mapping[str, Any]) -> Decimal | None:
        """Leonardo's price in the account's unit (None: no price). LeonardoBusy if it cannot answer
        now; LeonardoRejected if it refuses the parameters."""


@dataclass(frozen=True)
class Estimate:
    amount: Decimal
    unit: Unit
    source: EstimateSource

    def as_json(self) -> dict[str, Any]:
        """The body of `POST /v1/estimates` (credits; an integral amount as an integer)."""
        number: int | float = (
            int(self.amount) if self.amount == self.amount.to_integral_value() else float(self.amount)
        )
        return {"credits": number, "source": self.source}


class Estimator:
    """The estimate of a job from the cache or the table; never a Leonardo call.

    `unit` is the deployment's BillingUnit: a cached answer in another unit is not used. The table
    is in credits. A warm function remembers what it read (and which misses it recorded) for
    `memo_seconds`, so a burst of identical jobs costs one read."""

    def __init__(
        self, cache: PriceCache, clock: Clock, *, unit: Unit = "CREDITS", max_age_seconds: int = 7 * 86400,
        memo_seconds: float = 300, memo_size: int = 1024,
    ) -> None:  # fmt: skip
        self._cache, self._clock, self._unit = cache, clock, unit
        self._max_age = timedelta(seconds=max_age_seconds)
        self._memo_seconds, self._memo_size = memo_seconds, memo_size
        self._memo: dict[str, tuple[float, CachedPrice | None]] = {}

    def estimate(self, request: Mapping[str, Any], kind: str) -> Estimate:
        query = pricing_query(request, kind)
        if query is not None:
            cached = self._cached(query.key)
            now = self._clock()
            if cached is None or now - cached.priced_at > self._max_age:
                self._want(query, now)
            if cached is not None and cached.amount is not None and cached.unit == self._unit:
                return Estimate(amount=cached.amount, unit=cached.unit, source="pricing_calculator")
        return Estimate(amount=table_credits(request, kind), unit="CREDITS", source="table")

    def _cached(self, key: str) -> CachedPrice | None:
        moment = time.monotonic()
        remembered = self._memo.get(key)
        if remembered is not None and moment - remembered[0] <= self._memo_seconds:
            return remembered[1]
        if len(self._memo) >= self._memo_size:
            self._memo.clear()
        price = self._cache.get(key)
        self._memo[key] = (moment, price)
        return price

    def _want(self, query: PricingQuery, now: datetime) -> None:
        memo_key = f"want#{query.key}"
        moment = time.monotonic()
        remembered = self._memo.get(memo_key)
        if remembered is not None and moment - remembered[0] <= self._memo_seconds:
            return  # recorded a moment ago by this function
        try:
            self._cache.want(query, now)
        except Exception:  # an estimate never fails because a miss could not be recorded
            log.warning("a price cache miss was not recorded", exc_info=True)
            return
        self._memo[memo_key] = (moment, None)


@dataclass(frozen=True)
class RefreshReport:
    priced: int = 0
    no_price: int = 0  # refused, or answered null: the table keeps answering
    stopped_busy: bool = False  # Leonardo could not answer: the rest wait for the next run


def refresh_prices(
    cache: PriceCache, calculator: PricingCalculator, clock: Clock, *, unit: Unit = "CREDITS", limit: int = 20
) -> RefreshReport:
    """Ask the pricing calculator for up to `limit` wanted queries (the reconciler's scheduled job,
    an account-level call) and cache each answer in `unit`, the deployment's BillingUnit (the answer
    does not name its unit: it is the account's)."""
    priced = no_price = 0
    for query in cache.wanted(limit):
        try:
            amount = calculator.price(query.service, query.params)
        except LeonardoBusy as busy:
            log.warning("pricing calculator busy; the rest wait", extra={"why": busy.message})
            return RefreshReport(priced=priced, no_price=no_price, stopped_busy=True)
        except LeonardoRejected as refused:
            log.warning(
                "pricing calculator refused a query", extra={"why": refused.message, "key": query.key}
            )
            amount = None
        cache.save(query, CachedPrice(amount=amount, unit=unit, priced_at=clock()))
        if amount is None:
            no_price += 1
        else:
            priced += 1
    return RefreshReport(priced=priced, no_price=no_price)
