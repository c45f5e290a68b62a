"""JSON shapes of the REST responses and of the webhook callback.

REST bodies follow the openapi documents (Hasura-style snake_case wrappers
around camelCase columns); the callback follows webhooks-asyncapi.yml, whose
generation object differs in places (e.g. `seed` is a string there, an integer
in REST; images are under `images`, not `generated_images`).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .catalog import BY_ID, PLATFORM_MODELS
from .config import SimulatorConfig
from .initimages import InitImageRecord
from .jobs import COMPLETE, GeneratedImage, GenerationRecord
from .pricing import dollars

# Fixed, so the apiKey snapshot is stable across runs.
_API_KEY_NAMESPACE = uuid.UUID("7f0c6a52-1d55-4b8e-9f3a-6c2b8e1d4a90")
_EPOCH = "2024-01-01T00:00:00.000Z"
DEFAULT_PRESET_STYLE = "DYNAMIC"  # the image document's default


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with microseconds and a zone, e.g. `2024-05-01T12:00:00.123456Z`.

    Microseconds, not milliseconds: createdAt values are unique per generation
    (GenerationStore.add) and must stay distinct once rendered. The fixed width
    keeps string order equal to time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def now() -> datetime:
    return datetime.now(UTC)


def uuid4_from(name: str) -> str:
    """A stable id that still matches the documents' UUIDv4 pattern."""
    raw = bytearray(uuid.uuid5(_API_KEY_NAMESPACE, name).bytes)
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


def _image_rest(record: GenerationRecord, variations: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    if record.video is not None:
        return [_video_image_rest(record, image) for image in record.images]
    return [
        {
            "id": image.id,
            "url": image.url,
            "nsfw": image.nsfw,
            "likeCount": 0,
            "motionMP4URL": None,
            "generated_image_variation_generics": [
                {"id": v.id, "status": v.status, "transformType": v.transform_type, "url": v.url}
                for v in variations.get(image.id, ())
            ],
        }
        for image in record.images
    ]


def _video_image_rest(record: GenerationRecord, image: GeneratedImage) -> dict[str, Any]:
    """A video's one generated image: a poster frame as `url`, the clip as `motionMP4URL`, and the image
    document's motion fields."""
    video = record.video
    assert video is not None
    return {
        "id": image.id,
        "url": image.url,
        "nsfw": image.nsfw,
        "likeCount": 0,
        "motion": True,
        "motionModel": video.model or "SVD",
        "motionMP4URL": image.motion_url,
        "motionStrength": video.motion_strength,
        "imageToVideo": video.source_image_id is not None,
        "generated_image_variation_generics": [],
    }


def _video_generation_rest(record: GenerationRecord, images: list[dict[str, Any]]) -> dict[str, Any]:
    """A video generation in `GET /generations/{id}`: the fields that mean something for a video.
    `sdVersion`, `scheduler` and `presetStyle` are left out: their enums have no value for a video."""
    return {
        "id": record.id,
        "status": record.status,
        "createdAt": iso(record.created_at),
        "modelId": record.model_id,
        "prompt": record.prompt,
        "negativePrompt": record.negative_prompt,
        "imageWidth": record.width,
        "imageHeight": record.height,
        "inferenceSteps": None,
        "seed": record.seed,
        "public": record.public,
        "generated_images": images,
        "generation_elements": [],
    }


def generation_rest(
    record: GenerationRecord, variations: Mapping[str, list[Any]] | None = None
) -> dict[str, Any]:
    """`variations`: generated image id -> its variations (VariationStore.by_source), listed under
    the image as Leonardo does."""
    body = record.request
    if record.video is not None:
        return _video_generation_rest(record, _image_rest(record, {}))
    return {
        "id": record.id,
        "status": record.status,
        "createdAt": iso(record.created_at),
        "modelId": record.model_id,
        "prompt": record.prompt,
        "negativePrompt": record.negative_prompt,
        "imageWidth": record.width,
        "imageHeight": record.height,
        "inferenceSteps": body.get("num_inference_steps") or 15,
        "guidanceScale": body.get("guidance_scale") or 7,
        "seed": record.seed,
        "public": record.public,
        "scheduler": body.get("scheduler") or "EULER_DISCRETE",
        "sdVersion": record.sd_version,
        # The document's enum is nullable but omits null, so a value is always given.
        "presetStyle": body.get("presetStyle") or DEFAULT_PRESET_STYLE,
        "initStrength": body.get("init_strength"),
        "photoReal": record.photo_real,
        "photoRealStrength": body.get("photoRealStrength"),
        "promptMagic": body.get("promptMagic"),
        "promptMagicStrength": body.get("promptMagicStrength"),
        "promptMagicVersion": body.get("promptMagicVersion"),
        "ultra": body.get("ultra"),
        "generated_images": _image_rest(record, variations or {}),
        "generation_elements": [],
    }


def generation_log_entry(record: GenerationRecord) -> dict[str, Any]:
    """One entry of GET /_admin/generations (and `SimulatorHandle.generation_log()`):
    what was asked, what it cost, and how the answer to the create was faulted."""
    return {
        "id": record.id,
        "sequence": record.sequence,
        "createdAt": iso(record.created_at),
        "updatedAt": iso(record.updated_at),
        "status": record.status,
        "deleted": record.deleted,
        "userId": record.user_id,
        "request": copy.deepcopy(record.request),
        "seed": record.seed,
        "initImageId": record.init_image_id,
        "initGenerationImageId": record.init_generation_image_id,
        "cost": record.cost,
        "answer": record.answer,
        "answerStatus": record.answer_status,
        "receivedAt": iso_or_none(record.received_at),
        "answeredAt": iso_or_none(record.answered_at),
        "client": record.client,
        "requestHeaders": dict(record.request_headers),
        "video": _video_log(record),
        "readAt": [iso(t) for t in record.read_at],
        "downloadedAt": [iso(t) for t in record.downloaded_at],
    }


def _video_log(record: GenerationRecord) -> dict[str, Any] | None:
    """What made a video generation (null for pictures): its kind, model and source image."""
    video = record.video
    if video is None:
        return None
    return {
        "kind": video.kind,
        "route": video.route,
        "model": video.model,
        "resolution": video.resolution,
        "durationSeconds": video.duration_seconds,
        "motionStrength": video.motion_strength,
        "sourceImageId": video.source_image_id,
        "sourceType": video.source_type,
        "sourceGenerationId": video.source_generation_id,
        "endFrameImageId": video.end_frame_image_id,
    }


def upload_slot(record: InitImageRecord, fields: dict[str, str]) -> dict[str, str]:
    """`uploadInitImage`: `fields` is a JSON *string*, as Leonardo sends it."""
    return {"id": record.id, "url": record.upload_url, "key": record.key, "fields": json.dumps(fields)}


def canvas_upload_slots(
    init: tuple[InitImageRecord, dict[str, str]], mask: tuple[InitImageRecord, dict[str, str]]
) -> dict[str, str]:
    body: dict[str, str] = {}
    for prefix, (record, fields) in (("init", init), ("mask", mask)):
        slot = upload_slot(record, fields)
        body[f"{prefix}ImageId"] = slot["id"]
        body[f"{prefix}Fields"] = slot["fields"]
        body[f"{prefix}Key"] = slot["key"]
        body[f"{prefix}Url"] = slot["url"]
    return body


def init_image_rest(record: InitImageRecord) -> dict[str, str]:
    return {"id": record.id, "url": record.url, "createdAt": iso(record.created_at)}


def me(cfg: SimulatorConfig, paid: int, subscription: int) -> dict[str, Any]:
    """The account's balances in the unit it is billed in: credits, or for an account billed in dollars
    (`cost_unit: DOLLARS`) dollars, as the documented example's `apiPaidTokens: 12.4567`."""
    balance = _in_dollars if cfg.cost_unit == "DOLLARS" else int
    return {
        "user_details": [
            {
                "user": {"id": cfg.user_id, "username": cfg.username},
                "tokenRenewalDate": None,
                "paidTokens": 0,
                "subscriptionTokens": 0,
                "subscriptionGptTokens": 0,
                "subscriptionModelTokens": 0,
                "apiConcurrencySlots": cfg.max_concurrency,
                "apiPaidTokens": balance(paid),
                "apiSubscriptionTokens": balance(subscription),
                "apiPlanTokenRenewalDate": None,
            }
        ]
    }


def _in_dollars(credits: int) -> float | int:
    amount = dollars(credits).quantize(Decimal("0.0001"))
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def platform_models(origin: str) -> dict[str, Any]:
    return {
        "custom_models": [
            {
                "id": model.id,
                "name": model.name,
                "description": model.description,
                "featured": model.featured,
                "nsfw": False,
                "generated_image": {
                    "id": uuid4_from(f"preview:{model.id}"),
                    "url": f"{origin}/cdn/models/{model.id}/preview.png",
                },
            }
            for model in PLATFORM_MODELS
        ]
    }


def _init_type(record: GenerationRecord) -> str | None:
    if record.init_image_id:
        return "UPLOADED"
    return "GENERATED" if record.init_generation_image_id else None


def _model_snapshot(record: GenerationRecord, cfg: SimulatorConfig) -> dict[str, Any]:
    model = BY_ID.get(record.model_id)
    return {
        "id": record.model_id,
        "createdAt": _EPOCH,
        "updatedAt": _EPOCH,
        "name": model.name if model else (f"Motion {record.sd_version}" if record.video else "Custom model"),
        "description": model.description if model else "",
        "public": model is not None,
        "userId": cfg.user_id,
        "flagged": False,
        "nsfw": False,
        "official": model is not None,
        "status": "COMPLETE",
        "classPrompt": None,
        "coreModel": "SD",
        "initDatasetId": None,
        "instancePrompt": None,
        "sdVersion": record.sd_version,
        "trainingEpoch": None,
        "trainingSteps": None,
        "tokenCost": None,
        "batchSize": 4,
        "learningRate": None,
        "type": "GENERAL",
        "modelHeight": model.height if model else 512,
        "modelWidth": model.width if model else 512,
        "leonardoInstancePrompt": None,
        "trainingStrength": "MEDIUM",
        "featured": bool(model and model.featured),
        "featuredImageId": None,
        "featuredPosition": 0,
        "api": False,
        "favouriteCount": 0,
        "imageCount": 0,
        "enhancedModeration": False,
        "apiDollarCost": None,
        "apiKeyId": None,
        "modelLRN": None,
    }


def api_key_snapshot(cfg: SimulatorConfig) -> dict[str, Any]:
    """Like the published sample, this echoes the API key and the webhook key:
    consumers must strip it before logging or storing the callback."""
    snapshot: dict[str, Any] = {
        "id": uuid4_from(f"api-key:{cfg.api_key}"),
        "createdAt": _EPOCH,
        "userId": cfg.user_id,
        "key": cfg.api_key,
        "lastUsed": iso(now()),
        "name": "leonardo-simulator",
        "type": "PRODUCTION",
    }
    if cfg.webhook_url:
        snapshot["webhookCallbackUrl"] = cfg.webhook_url
    if cfg.webhook_key:
        snapshot["webhookCallbackApiKey"] = cfg.webhook_key
    return snapshot


def callback_envelope(record: GenerationRecord, cfg: SimulatorConfig) -> dict[str, Any]:
    """The `image_generation.complete` envelope. FAILED jobs get the same type
    with status FAILED and no images (the real API documents COMPLETE only)."""
    body = record.request
    updated = iso(record.updated_at)
    images = [
        {
            "id": image.id,
            "createdAt": updated,
            "updatedAt": updated,
            "userId": record.user_id,
            "url": image.url,
            "generationId": record.id,
            "nobgId": None,
            "nsfw": image.nsfw,
            "likeCount": 0,
            "trendingScore": 0,
            "public": record.public,
        }
        for image in record.images
        if record.status == COMPLETE
    ]
    generation = {
        "id": record.id,
        "createdAt": iso(record.created_at),
        "updatedAt": updated,
        "userId": record.user_id,
        "public": record.public,
        "flagged": False,
        "nsfw": False,
        "status": record.status,
        "coreModel": "SD",
        "guidanceScale": body.get("guidance_scale") or 7,
        "imageHeight": record.height,
        "imageWidth": record.width,
        "inferenceSteps": body.get("num_inference_steps") or 15,
        "initGeneratedImageId": record.init_generation_image_id,
        "initImageId": record.init_image_id,
        "initStrength": body.get("init_strength"),
        "initType": _init_type(record),
        "initUpscaledImageId": None,
        "modelId": record.model_id,
        "negativePrompt": record.negative_prompt or "",
        "prompt": record.prompt,
        "quantity": record.num_images,
        "sdVersion": record.sd_version,
        "tiling": bool(body.get("tiling")),
        "imageAspectRatio": None,
        "tokenCost": record.cost,
        "negativeStylePrompt": "",
        "seed": str(record.seed),
        "scheduler": body.get("scheduler") or "EULER_DISCRETE",
        "presetStyle": body.get("presetStyle") or DEFAULT_PRESET_STYLE,
        "promptMagic": bool(body.get("promptMagic")),
        "canvasInitImageId": body.get("canvasInitId"),
        "canvasMaskImageId": body.get("canvasMaskId"),
        "canvasRequest": bool(body.get("canvasRequest")),
        "api": True,
        "poseImage2Image": False,
        "imagePromptStrength": None,
        "category": None,
        "poseImage2ImageType": None,
        "highContrast": body.get("highContrast"),
        "apiDollarCost": "0",
        "poseImage2ImageWeight": None,
        "alchemy": record.alchemy,
        "contrastRatio": body.get("contrastRatio"),
        "highResolution": body.get("highResolution"),
        "expandedDomain": body.get("expandedDomain"),
        "promptMagicVersion": body.get("promptMagicVersion"),
        "unzoom": body.get("unzoom"),
        "unzoomAmount": body.get("unzoomAmount"),
        "apiKeyId": uuid4_from(f"api-key:{cfg.api_key}"),
        "photoReal": record.photo_real,
        "promptMagicStrength": body.get("promptMagicStrength"),
        "photoRealStrength": body.get("photoRealStrength"),
        "imageToImage": bool(record.init_image_id or record.init_generation_image_id),
        "controlnetsUsed": bool(body.get("controlnets")),
        "model": _model_snapshot(record, cfg),
        "images": images,
        "apiKey": api_key_snapshot(cfg),
    }
    return {
        "type": "image_generation.complete",
        "object": "generation",
        "timestamp": int(record.updated_at.timestamp() * 1000),
        "api_version": "v1",
        "data": {"object": generation},
    }


def cost_fields(credits: int, unit: str) -> dict[str, Any]:
    """A create answer's cost in the account's unit: credits in both fields, or (an account billed in
    dollars, the documents' example) `apiCreditCost: null` and `cost` in dollars."""
    if unit == "DOLLARS":
        return {"apiCreditCost": None, "cost": {"amount": f"{dollars(credits):.4f}", "unit": "DOLLARS"}}
    return {"apiCreditCost": credits, "cost": {"amount": str(credits), "unit": "CREDITS"}}
