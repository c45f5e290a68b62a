"""Variations (upscale, unzoom, background removal, universal upscaler) and the prompt tools.

A variation works on one generated image (or, for unzoom, nobg and the universal upscaler, on
another variation's output), is billed when it is created, answers with a variation id, and is
PENDING for `pending_seconds` before it is COMPLETE with one PNG on the CDN. Leonardo documents no
webhook for variations: callers poll `GET /variations/{id}`. The prompt tools answer at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from . import errors, views
from .images import render_png

# route -> (transformType, the answer's envelope key, credits). The documented VARIATION_TYPE enum
# has no value of its own for the universal upscaler: it reports UPSCALE.
VARIATION_ROUTES: dict[str, tuple[str, str, int]] = {
    "/variations/upscale": ("UPSCALE", "sdUpscaleJob", 5),
    "/variations/unzoom": ("UNZOOM", "sdUnzoomJob", 5),
    "/variations/nobg": ("NOBG", "sdNobgJob", 5),
    "/variations/universal-upscaler": ("UPSCALE", "universalUpscaler", 8),
}
UNIVERSAL_STYLES = frozenset({"GENERAL", "CINEMATIC", "2D ART & ILLUSTRATION", "CG ART & GAME ASSETS"})
ULTRA_STYLES = frozenset({"ARTISTIC", "REALISTIC"})
PROMPT_COST = 4
UNIVERSAL_FIELDS = frozenset({
    "generatedImageId", "initImageId", "variationId", "upscalerStyle", "ultraUpscaleStyle",
    "creativityStrength", "detailContrast", "similarity", "upscaleMultiplier", "prompt",
})  # fmt: skip


@dataclass(frozen=True)
class VariationRecord:
    id: str
    route: str
    transform_type: str
    source_image_id: str  # the generated image (or variation) it works on
    source_is_variation: bool
    request: dict[str, Any]
    width: int
    height: int
    seed: int
    cost: int
    origin: str
    created_at: datetime
    status: str = "PENDING"

    @property
    def url(self) -> str | None:
        return f"{self.origin}/cdn/variations/{self.id}.png" if self.status == "COMPLETE" else None


@dataclass
class VariationStore:
    records: dict[str, VariationRecord] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: VariationRecord) -> None:
        with self._lock:
            self.records[record.id] = record

    def get(self, variation_id: str) -> VariationRecord | None:
        with self._lock:
            return self.records.get(variation_id)

    def finish(self, variation_id: str, status: str) -> None:
        with self._lock:
            if variation_id in self.records:
                self.records[variation_id] = replace(self.records[variation_id], status=status)

    def snapshot(self) -> dict[str, VariationRecord]:
        with self._lock:
            return dict(self.records)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()


def _int_in(body: dict, name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise errors.validation(f"{name} must be between {low} and {high}", name)


def validate_variation(route: str, body: Any) -> tuple[str, bool]:
    """(the source image id, whether it is a variation) of a variation create body, or a 400."""
    if not isinstance(body, dict):
        raise errors.validation("expected a JSON object", "$")
    if route != "/variations/universal-upscaler":
        unknown = set(body) - {"id", "isVariation"}
        if unknown:
            raise errors.validation(f"unexpected field {sorted(unknown)[0]!r}", sorted(unknown)[0])
        if not isinstance(body.get("id"), str) or not body["id"]:
            raise errors.validation("id is required", "id")
        if route == "/variations/upscale" and body.get("isVariation"):
            raise errors.validation("the upscaler works on generated images only", "isVariation")
        return body["id"], bool(body.get("isVariation"))
    unknown = set(body) - UNIVERSAL_FIELDS
    if unknown:
        raise errors.validation(f"unexpected field {sorted(unknown)[0]!r}", sorted(unknown)[0])
    sources = [name for name in ("generatedImageId", "initImageId", "variationId") if body.get(name)]
    if len(sources) != 1:
        raise errors.validation(
            "exactly one of generatedImageId, initImageId, variationId", "generatedImageId"
        )
    if body.get("upscalerStyle") is not None and body["upscalerStyle"] not in UNIVERSAL_STYLES:
        raise errors.validation("unknown upscalerStyle", "upscalerStyle")
    if body.get("ultraUpscaleStyle") is not None and body["ultraUpscaleStyle"] not in ULTRA_STYLES:
        raise errors.validation("unknown ultraUpscaleStyle", "ultraUpscaleStyle")
    if body.get("upscalerStyle") and body.get("ultraUpscaleStyle"):
        raise errors.validation("upscalerStyle can not be used with ultraUpscaleStyle", "upscalerStyle")
    for name in ("detailContrast", "similarity"):
        if body.get(name) is not None and not body.get("ultraUpscaleStyle"):
            raise errors.validation(f"{name} can only be used with ultraUpscaleStyle", name)
    for name in ("creativityStrength", "detailContrast", "similarity"):
        _int_in(body, name, 1, 10)
    _int_in(body, "upscaleMultiplier", 1.0, 2.0)
    source = sources[0]
    return body[source], source == "variationId"


class Variations:
    """The variation routes' state, kept by the Simulator."""

    def __init__(self, sim: Any) -> None:
        self._sim = sim
        self.store = VariationStore()

    def create(self, route: str, body: dict, origin: str) -> VariationRecord:
        transform, _, cost = VARIATION_ROUTES[route]
        source_id, is_variation = validate_variation(route, body)
        width, height = self._source_size(source_id, is_variation)
        if transform == "UPSCALE":
            factor = float(body.get("upscaleMultiplier") or 2.0)
            width, height = int(width * factor), int(height * factor)
        elif transform == "UNZOOM":
            width, height = int(width * 1.5), int(height * 1.5)
        if not self._sim.ledger.charge(cost):
            raise errors.ApiError(400, "Not enough API tokens to run this variation", "insufficient-credits")
        digest = hashlib.sha256(f"{transform}:{source_id}:{sorted(body.items())}".encode()).digest()
        record = VariationRecord(
            id=str(uuid.uuid4()), route=route, transform_type=transform, source_image_id=source_id,
            source_is_variation=is_variation, request=dict(body), width=width, height=height,
            seed=int.from_bytes(digest[:4]), cost=cost, created_at=views.now(),
            origin=(self._sim.cfg.public_url or origin).rstrip("/"),
        )  # fmt: skip
        self.store.add(record)
        self._sim.stats.incr("variations_created")
        self._sim.stats.incr("credits_spent", cost)
        self._sim.spawn(self._finish(record.id))
        return record

    def _source_size(self, source_id: str, is_variation: bool) -> tuple[int, int]:
        if is_variation:
            source = self.store.get(source_id)
            if source is None or source.status != "COMPLETE":
                raise errors.validation(f"variation {source_id} not found", "id")
            return source.width, source.height
        for record in self._sim.store.snapshot().values():
            if any(image.id == source_id for image in record.images):
                return record.width, record.height
        raise errors.validation(f"generated image {source_id} not found", "id")

    async def _finish(self, variation_id: str) -> None:
        await asyncio.sleep(self._sim.cfg.pending_seconds)
        failed = self._sim.faults.roll("failed_generation")
        self.store.finish(variation_id, "FAILED" if failed else "COMPLETE")
        self._sim.stats.incr("variations_failed" if failed else "variations_completed")

    def get(self, variation_id: str) -> VariationRecord:
        record = self.store.get(variation_id)
        if record is None:
            raise errors.not_found(f"variation {variation_id} not found")
        return record

    def png(self, variation_id: str) -> bytes:
        record = self.store.get(variation_id)
        if record is None or record.status != "COMPLETE":
            raise errors.not_found("image not found")
        # Capped: the pixels are a stand-in; their size stays in the answer's dimensions.
        width, height = min(record.width, 2048), min(record.height, 2048)
        return render_png(record.transform_type, record.seed, 0, width, height, record.source_image_id)


def variation_answer(record: VariationRecord, cost_unit: str = "CREDITS") -> dict[str, Any]:
    _, envelope, _ = VARIATION_ROUTES[record.route]
    return {envelope: {"id": record.id, **views.cost_fields(record.cost, cost_unit)}}


def variation_view(record: VariationRecord) -> dict[str, Any]:
    return {
        "generated_image_variation_generic": [
            {"id": record.id, "status": record.status, "transformType": record.transform_type,
             "url": record.url, "createdAt": record.created_at.isoformat().replace("+00:00", "Z")}
        ]
    }  # fmt: skip


def improved_prompt(prompt: str, instructions: str | None) -> str:
    tail = f", {instructions.strip()}" if instructions and instructions.strip() else ""
    return f"{prompt.strip()}, highly detailed, soft volumetric light, sharp focus{tail}"


RANDOM_PROMPTS = (
    "A lighthouse on a basalt cliff at dawn, waves breaking below, oil painting",
    "A fox curled up in fresh snow under a paper lantern, watercolour",
    "A brass submarine gliding past glowing coral towers, cinematic",
    "A tea house in a bamboo forest during a summer storm, ukiyo-e",
)


def prompt_answer(prompt: str, cost_unit: str = "CREDITS") -> dict[str, Any]:
    return {"promptGeneration": {"prompt": prompt, **views.cost_fields(PROMPT_COST, cost_unit)}}
