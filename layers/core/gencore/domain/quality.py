"""Draft vs final: the `quality` preset of `POST /v1/generations` (and `POST /v1/estimates`).

`"quality": "draft"` asks for fast, cheap settings; `"quality": "final"` for quality settings. The
table is `PRESETS` (docs/parameters.md, "Quality presets", with the reason for each line). A preset
is applied to the request body before anything else looks at it (validation, the rules between
fields, the plan's caps, the estimate), so the job stores the settings it runs with, and its
estimate is the estimate of those settings.

**The caller's fields win.** A preset only fills what the caller left unset (absent or null), and a
line naming several fields (the size) only when all of them are unset. A line that would break a
rule together with what the caller set (draft's alchemy off beside a `photo_real`, which needs
alchemy) is left out too: the preset never makes a request refused that would be accepted without
it, and never changes a field the caller set. What it applied is what the stored request shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from .model_catalog import DEFAULT_MODEL_ID
from .parameters import ImageParameters, broken_rules

Quality = Literal["draft", "final"]


@dataclass(frozen=True)
class Setting:
    """One line of a preset: fields applied together, and why (docs/parameters.md shows it)."""

    fields: Mapping[str, Any]
    why: str


PRESETS: dict[str, tuple[Setting, ...]] = {
    "draft": (
        Setting({"model_id": DEFAULT_MODEL_ID},
                "Leonardo Lightning XL: Leonardo's fast model, and the cheapest XL line of its Estimated "
                "Pricing Table (15 credits for 4 images at 512x512, 40 at 1024x1024)"),
        Setting({"width": 512, "height": 512},
                "the table's small size: a price grows with the pixel count (512x512 costs about a third "
                "of 1024x1024 on most lines)"),
        Setting({"alchemy": False},
                "no Alchemy, Leonardo's quality pipeline: on SD models it is the difference between the "
                "table's Stable Diffusion line and its + Alchemy line (7 vs 16 credits at 512x512)"),
        Setting({"num_inference_steps": 10},
                "the fewest steps Leonardo takes (10 to 60, its default 15): a faster generation"),
    ),
    "final": (
        Setting({"width": 1024, "height": 1024},
                "the table's large size (our default, made explicit)"),
        Setting({"alchemy": True},
                "Alchemy on (Leonardo's default, made explicit): its quality pipeline"),
    ),
}  # fmt: skip


def apply_quality(data: dict[str, Any]) -> dict[str, Any]:
    """The request body `data` with its `quality` preset applied (unchanged without one, or with a
    value that is not a preset: the request model refuses it then)."""
    quality = data.get("quality")
    preset = PRESETS.get(quality) if isinstance(quality, str) else None
    if not preset:
        return data
    init_image = data.get("source") is not None
    problems = _problems(data, init_image)
    for setting in preset:
        if any(data.get(name) is not None for name in setting.fields):
            continue  # the caller set it (or part of it): theirs wins
        candidate = data | dict(setting.fields)
        found = _problems(candidate, init_image)
        if found <= problems:  # nothing the caller's own fields did not break already
            data, problems = candidate, found
    return data


def _problems(data: Mapping[str, Any], init_image: bool) -> frozenset[str]:
    """What is wrong with the generation parameters of `data`: the field errors, or the rules
    between fields it breaks (by name)."""
    fields = {name: value for name, value in data.items() if name in ImageParameters.model_fields}
    try:
        params = ImageParameters.model_validate(fields)
    except ValidationError as invalid:
        return frozenset(f"{error['type']}:{error['loc']}" for error in invalid.errors())
    return frozenset(broken.rule for broken in broken_rules(params, init_image=init_image))
