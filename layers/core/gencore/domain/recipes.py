"""Leonardo's request JSON <-> ours: one table, used both ways.

`to_leonardo` builds the body of `POST /generations` from a stored request (kinds/image.py).
`from_leonardo` takes the body a designer copies from Leonardo's web app ("Get API Code") and maps
it onto our fields, so a recipe moves from the web app to the product in one paste. The result is
validated by the same model and rules as any request and stored in our names.

Ids that belong to someone's Leonardo account (init images, generated images, canvas images,
user elements, ControlNet and image-prompt images) are refused with 422 `foreign_leonardo_id`:
ours are named by `source` (our uploads and jobs) instead. `public` is always false here.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError

# Our field -> Leonardo's wire name (Leonardo mixes snake_case and camelCase).
WIRE_NAMES: dict[str, str] = {
    "prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "model_id": "modelId",
    "width": "width",
    "height": "height",
    "num_images": "num_images",
    "seed": "seed",
    "preset_style": "presetStyle",
    "alchemy": "alchemy",
    "photo_real": "photoReal",
    "photo_real_version": "photoRealVersion",
    "photo_real_strength": "photoRealStrength",
    "contrast": "contrast",
    "contrast_ratio": "contrastRatio",
    "ultra": "ultra",
    "guidance_scale": "guidance_scale",
    "num_inference_steps": "num_inference_steps",
    "scheduler": "scheduler",
    "sd_version": "sd_version",
    "tiling": "tiling",
    "transparency": "transparency",
    "enhance_prompt": "enhancePrompt",
    "enhance_prompt_instruction": "enhancePromptInstruction",
    "expanded_domain": "expandedDomain",
    "fantasy_avatar": "fantasyAvatar",
    "high_contrast": "highContrast",
    "high_resolution": "highResolution",
    "prompt_magic": "promptMagic",
    "prompt_magic_strength": "promptMagicStrength",
    "prompt_magic_version": "promptMagicVersion",
}
OURS = {wire: ours for ours, wire in WIRE_NAMES.items()}
# Leonardo fields that name something in another Leonardo account (or need one of its ids).
FOREIGN = frozenset({
    "init_image_id", "init_generation_image_id", "canvasInitId", "canvasMaskId", "canvasRequest",
    "canvasRequestType", "controlnets", "controlNet", "controlNetType", "weighting", "imagePrompts",
    "imagePromptWeight", "userElements", "unzoom", "unzoomAmount",
})  # fmt: skip
# Fields of the web app's code that mean nothing for us (or are forced): dropped.
DROPPED = frozenset({"public", "init_strength"})


def foreign_leonardo_id(field: str) -> PydanticCustomError:
    return PydanticCustomError(
        "foreign_leonardo_id",
        "{field} names something in a Leonardo account; name our own uploads and jobs with `source` instead",
        {"field": field},
    )


def from_leonardo(body: Any) -> dict[str, Any]:
    """Leonardo's request JSON -> our request fields (validated afterwards by the request model)."""
    if not isinstance(body, dict):
        raise PydanticCustomError("leonardo_not_an_object", "`leonardo` is Leonardo's request JSON object")
    ours: dict[str, Any] = {}
    for wire, value in body.items():
        if wire in FOREIGN:
            if value in (None, False, [], ""):
                continue  # the web app's code spells out unused fields as null/false
            raise foreign_leonardo_id(wire)
        if wire in DROPPED or value is None:
            continue
        if wire == "elements":
            ours["elements"] = [_element(item) for item in value] if isinstance(value, list) else value
        elif wire in OURS:
            ours[OURS[wire]] = value
        else:
            raise PydanticCustomError(
                "leonardo_field_unsupported",
                "Leonardo's field {field} is not supported here",
                {"field": wire},
            )
    return ours


def _element(item: Any) -> Any:
    if isinstance(item, dict) and set(item) <= {"akUUID", "weight"}:
        return {"id": item.get("akUUID"), **({"weight": item["weight"]} if "weight" in item else {})}
    return item  # refused by the request model, with its location


def to_leonardo(request: dict[str, Any]) -> dict[str, Any]:
    """A stored request's generation parameters in Leonardo's names (the guide image and the seed
    are the caller's to add: they come from the job, not the request)."""
    body = {wire: request[ours] for ours, wire in WIRE_NAMES.items() if request.get(ours) is not None}
    if request.get("elements"):
        body["elements"] = [{"akUUID": e["id"], "weight": e["weight"]} for e in request["elements"]]
    if request.get("user_elements"):
        body["userElements"] = [
            {"userLoraId": e["id"], "weight": e["weight"]} for e in request["user_elements"]
        ]
    return body
