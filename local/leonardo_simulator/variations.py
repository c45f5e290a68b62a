"""Variations (upscale, unzoom, background removal, universal upscaler) and the prompt tools.

A variation works on one generated image (or, for unzoom, nobg and the universal upscaler, on
another variation's output), is billed when it is created, answers with a variation id, and is
PENDING for `pending_seconds` before it is COMPLETE with one PNG on the CDN. Leonardo documents no
webhook for variations: callers poll `GET /variations/{id}`. The prompt tools answer at once.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import io
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from PIL import Image, ImageDraw

from . import errors, views
from .images import render_png
from .pricing import PROMPT_CREDITS, VARIATION_CREDITS

# route -> (transformType, the answer's envelope key, credits: the one price list, pricing.py). The
# documented VARIATION_TYPE enum has no value of its own for the universal upscaler: it reports UPSCALE.
VARIATION_ROUTES: dict[str, tuple[str, str, int]] = {
    route: (transform, envelope, VARIATION_CREDITS[route])
    for route, transform, envelope in (
        ("/variations/upscale", "UPSCALE", "sdUpscaleJob"),
        ("/variations/unzoom", "UNZOOM", "sdUnzoomJob"),
        ("/variations/nobg", "NOBG", "sdNobgJob"),
        ("/variations/universal-upscaler", "UPSCALE", "universalUpscaler"),
    )
}
UNIVERSAL_STYLES = frozenset({"GENERAL", "CINEMATIC", "2D ART & ILLUSTRATION", "CG ART & GAME ASSETS"})
ULTRA_STYLES = frozenset({"ARTISTIC", "REALISTIC"})
UNIVERSAL_FIELDS = frozenset({
    "generatedImageId", "initImageId", "variationId", "upscalerStyle", "ultraUpscaleStyle",
    "creativityStrength", "detailContrast", "similarity", "upscaleMultiplier", "prompt",
})  # fmt: skip


# route -> the job kind (the backend's `kind` names), for the admin log.
KINDS = {
    "/variations/upscale": "upscale",
    "/variations/unzoom": "unzoom",
    "/variations/nobg": "no_background",
    "/variations/universal-upscaler": "universal_upscale",
}
# What a variation works on (VariationRecord.source_type).
GENERATED, VARIATION, UPLOADED = "GENERATED", "VARIATION", "UPLOADED"
MAX_SIDE = 2048  # the served PNG's side is capped; the pixels are a stand-in


@dataclass(frozen=True)
class VariationRecord:
    id: str
    route: str
    transform_type: str
    source_image_id: str  # the generated image, variation or (universal upscaler) init image
    source_is_variation: bool
    request: dict[str, Any]
    width: int
    height: int
    seed: int
    cost: int
    origin: str
    created_at: datetime
    status: str = "PENDING"
    source_type: str = GENERATED
    source_generation_id: str | None = None  # the generation whose image it works on, if any
    received_at: datetime | None = None
    # How the create was answered (the after-create faults), as in the generation log.
    answer: str = "ok"
    answer_status: int = 200
    answered_at: datetime | None = None
    sequence: int = 0

    @property
    def kind(self) -> str:
        return KINDS[self.route]

    @property
    def url(self) -> str | None:
        return f"{self.origin}/cdn/variations/{self.id}.png" if self.status == "COMPLETE" else None


@dataclass
class VariationStore:
    records: dict[str, VariationRecord] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: VariationRecord) -> VariationRecord:
        with self._lock:
            record = replace(record, sequence=len(self.records) + 1)
            self.records[record.id] = record
            return record

    def update(self, variation_id: str, **changes: Any) -> None:
        with self._lock:
            if variation_id in self.records:
                self.records[variation_id] = replace(self.records[variation_id], **changes)

    def get(self, variation_id: str) -> VariationRecord | None:
        with self._lock:
            return self.records.get(variation_id)

    def by_source(self) -> dict[str, list[VariationRecord]]:
        """Generated image id -> the variations made from it, oldest first (GET /generations lists
        them under the image as `generated_image_variation_generics`)."""
        found: dict[str, list[VariationRecord]] = {}
        with self._lock:
            for record in sorted(self.records.values(), key=lambda r: r.sequence):
                if record.source_type == GENERATED:
                    found.setdefault(record.source_image_id, []).append(record)
        return found

    def snapshot(self) -> dict[str, VariationRecord]:
        with self._lock:
            return dict(self.records)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()


def _in_range(body: dict, name: str, low: float, high: float, *, integer: bool) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise errors.validation(f"{name} must be between {low:g} and {high:g}", name)
    if integer and value != int(value):
        raise errors.validation(f"expected Int for field '{name}'", name)


def validate_variation(route: str, body: Any) -> tuple[str, str]:
    """(the source image id, its source type) of a variation create body, or a 400."""
    if not isinstance(body, dict):
        raise errors.validation("expected a JSON object", "$")
    if route != "/variations/universal-upscaler":
        unknown = set(body) - {"id", "isVariation"}
        if unknown:
            raise errors.validation(f"unexpected field {sorted(unknown)[0]!r}", sorted(unknown)[0])
        if not isinstance(body.get("id"), str) or not body["id"]:
            raise errors.validation("id is required", "id")
        if body.get("isVariation") is not None and not isinstance(body["isVariation"], bool):
            raise errors.validation("expected Boolean for field 'isVariation'", "isVariation")
        if route == "/variations/upscale" and body.get("isVariation"):
            raise errors.validation("the upscaler works on generated images only", "isVariation")
        return body["id"], VARIATION if body.get("isVariation") else GENERATED
    unknown = set(body) - UNIVERSAL_FIELDS
    if unknown:
        raise errors.validation(f"unexpected field {sorted(unknown)[0]!r}", sorted(unknown)[0])
    sources = [name for name in ("generatedImageId", "initImageId", "variationId") if body.get(name)]
    if len(sources) != 1:
        raise errors.validation(
            "exactly one of generatedImageId, initImageId, variationId", "generatedImageId"
        )
    for name in (*sources, "prompt"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise errors.validation(f"expected String for field '{name}'", name)
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
        _in_range(body, name, 1, 10, integer=True)
    _in_range(body, "upscaleMultiplier", 1.0, 2.0, integer=False)
    source = sources[0]
    return body[source], {"generatedImageId": GENERATED, "variationId": VARIATION}.get(source, UPLOADED)


class Variations:
    """The variation routes' state, kept by the Simulator."""

    def __init__(self, sim: Any) -> None:
        self._sim = sim
        self.store = VariationStore()

    def create(
        self, route: str, body: dict, origin: str, received_at: datetime | None = None
    ) -> VariationRecord:
        transform, _, cost = VARIATION_ROUTES[route]
        source_id, source_type = validate_variation(route, body)
        width, height, generation_id = self._source(source_id, source_type, route)
        if transform == "UPSCALE":
            default = 1.5 if route == "/variations/universal-upscaler" else 2.0  # the documented default
            factor = float(body.get("upscaleMultiplier") or default)
            width, height = round(width * factor), round(height * factor)
        elif transform == "UNZOOM":
            width, height = round(width * 1.5), round(height * 1.5)
        if not self._sim.ledger.charge(cost):
            raise errors.ApiError(400, "Not enough API tokens to run this variation", "insufficient-credits")
        digest = hashlib.sha256(f"{transform}:{source_id}:{sorted(body.items())}".encode()).digest()
        record = self.store.add(VariationRecord(
            id=str(uuid.uuid4()), route=route, transform_type=transform, source_image_id=source_id,
            source_is_variation=source_type == VARIATION, request=dict(body), width=width, height=height,
            seed=int.from_bytes(digest[:4]), cost=cost, created_at=views.now(),
            origin=(self._sim.cfg.public_url or origin).rstrip("/"), source_type=source_type,
            source_generation_id=generation_id, received_at=received_at,
        ))  # fmt: skip
        self._sim.stats.incr("variations_created")
        self._sim.stats.incr("credits_spent", cost)
        self._sim.spawn(self._finish(record.id))
        return record

    def _source(self, source_id: str, source_type: str, route: str) -> tuple[int, int, str | None]:
        """(width, height, generation id) of what a variation works on, or Leonardo's 400."""
        field = "id" if route != "/variations/universal-upscaler" else {
            GENERATED: "generatedImageId", VARIATION: "variationId", UPLOADED: "initImageId"
        }[source_type]  # fmt: skip
        if source_type == VARIATION:
            source = self.store.get(source_id)
            if source is None or source.status != "COMPLETE":
                raise errors.validation(f"variation {source_id} not found", field)
            return source.width, source.height, None
        if source_type == UPLOADED:
            upload = self._sim.init_images.get(source_id)
            if upload is None or upload.content is None:
                raise errors.validation(f"init image {source_id} not found", field)
            return (*picture_size(upload.content), None)
        for record in self._sim.store.snapshot().values():
            if record.video is None and any(image.id == source_id for image in record.images):
                return record.width, record.height, record.id
        raise errors.validation(f"generated image {source_id} not found", field)

    async def _finish(self, variation_id: str) -> None:
        await asyncio.sleep(self._sim.cfg.pending_seconds)
        failed = self._sim.faults.roll("failed_generation")
        self.store.update(variation_id, status="FAILED" if failed else "COMPLETE")
        if failed:
            record = self.store.get(variation_id)
            if record is not None:
                self._sim.ledger.refund(record.cost)  # as for generations: a failed job is not charged
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
        width, height = min(record.width, MAX_SIDE), min(record.height, MAX_SIDE)
        png = render_png(record.transform_type, record.seed, 0, width, height, record.source_image_id)
        return _without_background(png) if record.transform_type == "NOBG" else png


def picture_size(content: bytes) -> tuple[int, int]:
    """An upload's pixel size; an undecodable one counts as 1024x1024."""
    try:
        with Image.open(io.BytesIO(content)) as picture:
            return picture.size
    except (OSError, ValueError):
        return 1024, 1024


def _without_background(png: bytes) -> bytes:
    """The picture as RGBA, transparent outside a centred ellipse (the "subject"): a real alpha
    channel, as a background removal gives."""
    with Image.open(io.BytesIO(png)) as picture:
        rgba = picture.convert("RGBA")
    mask = Image.new("L", rgba.size, 0)
    width, height = rgba.size
    ImageDraw.Draw(mask).ellipse(
        (width // 8, height // 8, width - width // 8, height - height // 8), fill=255
    )
    rgba.putalpha(mask)
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    return out.getvalue()


def variation_answer(record: VariationRecord, cost_unit: str = "CREDITS") -> dict[str, Any]:
    _, envelope, _ = VARIATION_ROUTES[record.route]
    return {envelope: {"id": record.id, **views.cost_fields(record.cost, cost_unit)}}


def variation_view(record: VariationRecord) -> dict[str, Any]:
    return {
        "generated_image_variation_generic": [
            {"id": record.id, "status": record.status, "transformType": record.transform_type,
             "url": record.url, "createdAt": views.iso(record.created_at)}
        ]
    }  # fmt: skip


def improved_prompt(prompt: str, instructions: str | None, is_video: bool = False) -> str:
    """Deterministic: the prompt, a fixed elaboration (of motion for a video prompt), the instructions."""
    tail = f", {instructions.strip()}" if instructions and instructions.strip() else ""
    detail = (
        "slow camera dolly, gentle motion, cinematic"
        if is_video
        else "highly detailed, soft volumetric light, sharp focus"
    )
    return f"{prompt.strip()}, {detail}{tail}"


RANDOM_PROMPTS = (
    "A lighthouse on a basalt cliff at dawn, waves breaking below, oil painting",
    "A fox curled up in fresh snow under a paper lantern, watercolour",
    "A brass submarine gliding past glowing coral towers, cinematic",
    "A tea house in a bamboo forest during a summer storm, ukiyo-e",
)


def variation_log_entry(record: VariationRecord) -> dict[str, Any]:
    """One entry of GET /_admin/variations (and `SimulatorHandle.variation_log()`)."""
    return {
        "id": record.id, "sequence": record.sequence, "kind": record.kind, "route": record.route,
        "transformType": record.transform_type, "sourceImageId": record.source_image_id,
        "sourceType": record.source_type, "isVariation": record.source_is_variation,
        "sourceGenerationId": record.source_generation_id, "status": record.status, "cost": record.cost,
        "request": copy.deepcopy(record.request), "width": record.width, "height": record.height,
        "createdAt": views.iso(record.created_at), "receivedAt": views.iso_or_none(record.received_at),
        "answer": record.answer, "answerStatus": record.answer_status,
        "answeredAt": views.iso_or_none(record.answered_at),
    }  # fmt: skip


def prompt_answer(prompt: str, cost_unit: str = "CREDITS") -> dict[str, Any]:
    return {"promptGeneration": {"prompt": prompt, **views.cost_fields(PROMPT_CREDITS, cost_unit)}}
