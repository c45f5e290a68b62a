"""Leonardo's request JSON <-> ours: one table (`FIELDS`), used both ways.

`to_leonardo` builds the body of `POST /generations` from our parameters (an `ImageParameters`, or
a stored request in our names). `from_leonardo` takes the body a designer copies from Leonardo's
web app ("Get API Code") and maps it onto our field names; `parameters_from_leonardo` also
validates it and checks the same rules as any request (parameters.check_rules).

Ids that belong to someone's Leonardo account (init images, generated images, canvas images,
image prompts, user elements, ControlNet images) are refused with `foreign_leonardo_id`: ours are
named by our own fields (`source`, `controlnets[].upload_id`, `user_elements` of our account).
`public` is always false: a pasted `public` is dropped and every body we build says `false`.
Leonardo fields we do not offer are refused by name (`leonardo_field_unsupported`), saying why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from .errors import InvalidRequest
from .parameters import ImageParameters, check_rules


@dataclass(frozen=True)
class WireField:
    ours: str
    wire: str
    # Lists of objects: our key -> Leonardo's key, item by item.
    items: Mapping[str, str] = field(default_factory=dict)
    # False: a pasted value names something in a Leonardo account (refused, foreign_leonardo_id).
    pasteable: bool = True


FIELDS: tuple[WireField, ...] = (
    WireField("prompt", "prompt"),
    WireField("negative_prompt", "negative_prompt"),
    WireField("model_id", "modelId"),
    WireField("width", "width"),
    WireField("height", "height"),
    WireField("num_images", "num_images"),
    WireField("seed", "seed"),
    WireField("preset_style", "presetStyle"),
    WireField("alchemy", "alchemy"),
    WireField("photo_real", "photoReal"),
    WireField("photo_real_version", "photoRealVersion"),
    WireField("photo_real_strength", "photoRealStrength"),
    WireField("contrast", "contrast"),
    WireField("contrast_ratio", "contrastRatio"),
    WireField("ultra", "ultra"),
    WireField("guidance_scale", "guidance_scale"),
    WireField("num_inference_steps", "num_inference_steps"),
    WireField("scheduler", "scheduler"),
    WireField("sd_version", "sd_version"),
    WireField("tiling", "tiling"),
    WireField("transparency", "transparency"),
    WireField("enhance_prompt", "enhancePrompt"),
    WireField("enhance_prompt_instruction", "enhancePromptInstruction"),
    WireField("expanded_domain", "expandedDomain"),
    WireField("fantasy_avatar", "fantasyAvatar"),
    WireField("high_contrast", "highContrast"),
    WireField("high_resolution", "highResolution"),
    WireField("prompt_magic", "promptMagic"),
    WireField("prompt_magic_strength", "promptMagicStrength"),
    WireField("prompt_magic_version", "promptMagicVersion"),
    WireField("elements", "elements", items={"id": "akUUID", "weight": "weight"}),
    WireField("user_elements", "userElements", items={"id": "userLoraId", "weight": "weight"},
              pasteable=False),
    WireField(
        "controlnets", "controlnets", pasteable=False,
        items={"upload_id": "initImageId", "preprocessor_id": "preprocessorId", "weight": "weight",
               "strength_type": "strengthType"},
    ),
)  # fmt: skip
BY_WIRE = {f.wire: f for f in FIELDS}
WIRE_NAMES: dict[str, str] = {f.ours: f.wire for f in FIELDS}  # our field -> Leonardo's name
OURS = {wire: ours for ours, wire in WIRE_NAMES.items()}

# Leonardo fields that name something in a Leonardo account (besides the table's non-pasteable ones).
FOREIGN = frozenset(
    {"init_image_id", "init_generation_image_id", "canvasInitId", "canvasMaskId", "imagePrompts"}
    | {f.wire for f in FIELDS if not f.pasteable}
)
# Leonardo fields we do not offer, and what to do instead.
UNSUPPORTED: dict[str, str] = {
    "canvasRequest": "canvas jobs take `canvas` and `source` (your uploads) in our own fields",
    "canvasRequestType": "canvas jobs take `canvas` and `source` (your uploads) in our own fields",
    "imagePromptWeight": "it goes with imagePrompts, which name images of a Leonardo account",
    "unzoom": "unzoom one of your images with POST /v1/generations/{job_id}/images/{index}/variations",
    "unzoomAmount": "unzoom one of your images with POST /v1/generations/{job_id}/images/{index}/variations",
    "upscaleRatio": "Leonardo offers it to Enterprise accounts only; upscale with a variation instead",
    "controlNet": "deprecated by Leonardo: use `controlnets` with your own uploads",
    "controlNetType": "deprecated by Leonardo: use `controlnets` with your own uploads",
    "weighting": "deprecated by Leonardo: use `controlnets` with your own uploads",
    "styleUUID": "not in the image API we build against: use presetStyle",
}
# Pasted but meaningless here: `public` (we always send false); `init_strength` (its init image
# would be a foreign id; with our own images it is our `init_strength` field).
DROPPED = frozenset({"public", "init_strength"})


class LeonardoPasteRefused(InvalidRequest):
    """A pasted Leonardo body names something we refuse: `code` says why, `field` names it."""

    def __init__(self, message: str, *, code: str, field: str | None) -> None:
        super().__init__(message, code=code)
        self.field = field

    @property
    def details(self) -> dict[str, str]:
        return {"field": self.field} if self.field else {}


def foreign_leonardo_id(field: str) -> PydanticCustomError:
    return PydanticCustomError(
        "foreign_leonardo_id",
        "{field} names something in a Leonardo account; name our own uploads and jobs with `source` instead",
        {"field": field},
    )


def unsupported(field: str) -> PydanticCustomError:
    why = UNSUPPORTED.get(field, "it is not a field of Leonardo's POST /generations we know")
    return PydanticCustomError(
        "leonardo_field_unsupported", "Leonardo's field {field} is not supported here: {why}",
        {"field": field, "why": why},
    )  # fmt: skip


def from_leonardo(body: Any) -> dict[str, Any]:
    """Leonardo's request JSON -> our field names (validated afterwards: `parameters_from_leonardo`,
    or the request model). Raises pydantic errors, so it can run inside a request model's validator."""
    if not isinstance(body, dict):
        raise PydanticCustomError("leonardo_not_an_object", "`leonardo` is Leonardo's request JSON object")
    ours: dict[str, Any] = {}
    for wire, value in body.items():
        known = wire in BY_WIRE or wire in FOREIGN or wire in UNSUPPORTED or wire in DROPPED
        if not known:
            raise unsupported(wire)  # a typo is caught even when null
        if wire in DROPPED:
            continue
        if wire in FOREIGN or wire in UNSUPPORTED:
            if _unused(value):
                continue  # the web app's code spells out unused fields as null, false, [] or ""
            raise foreign_leonardo_id(wire) if wire in FOREIGN else unsupported(wire)
        if value is None:
            continue
        spec = BY_WIRE[wire]
        ours[spec.ours] = (
            [_ours(spec, item) for item in value] if spec.items and isinstance(value, list) else value
        )
    return ours


def _unused(value: Any) -> bool:
    return value is None or value is False or value == [] or value == ""


def _ours(spec: WireField, item: Any) -> Any:
    back = {wire: ours for ours, wire in spec.items.items()}
    if isinstance(item, dict) and set(item) <= set(back):
        return {back[key]: value for key, value in item.items()}
    return item  # refused by the model, with its location


def parameters_from_leonardo(body: Any) -> ImageParameters:
    """A pasted Leonardo body as our parameters, validated and its rules checked.

    Raises LeonardoPasteRefused (foreign_leonardo_id, leonardo_field_unsupported), pydantic's
    ValidationError (a field out of range), or InvalidCombination (a rule between fields)."""
    try:
        fields = from_leonardo(body)
    except PydanticCustomError as refused:
        raise LeonardoPasteRefused(
            refused.message(), code=refused.type, field=(refused.context or {}).get("field")
        ) from None
    params = ImageParameters.model_validate(fields)
    check_rules(params)
    return params


def to_leonardo(
    params: ImageParameters | Mapping[str, Any], *, init_image_ids: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Our parameters in Leonardo's names: the body of `POST /generations`, `public: false`.

    `init_image_ids`: our upload id -> Leonardo's init image id, for `controlnets` (the adapter hands
    the upload over first). The job's own guide image and drawn seed are the caller's to add."""
    data = params.model_dump(mode="json") if isinstance(params, BaseModel) else dict(params)
    body: dict[str, Any] = {}
    for spec in FIELDS:
        value = data.get(spec.ours)
        if value is None or (spec.items and not value):
            continue
        if spec.ours == "controlnets":
            value = [_controlnet(item, init_image_ids or {}) for item in value]
        elif spec.items:
            value = [{spec.items[k]: v for k, v in item.items() if v is not None} for item in value]
        body[spec.wire] = value
    body["public"] = False  # outputs of our users never go to Leonardo's community feed
    return body


def _controlnet(item: Mapping[str, Any], init_image_ids: Mapping[str, str]) -> dict[str, Any]:
    upload_id = item["upload_id"]
    if upload_id not in init_image_ids:
        raise ValueError(f"controlnet upload {upload_id} has no Leonardo init image id: hand it over first")
    wire = {"initImageId": init_image_ids[upload_id], "initImageType": "UPLOADED"}
    spec = BY_WIRE["controlnets"]
    return wire | {spec.items[k]: v for k, v in item.items() if k != "upload_id" and v is not None}
