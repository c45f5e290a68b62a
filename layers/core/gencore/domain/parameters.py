"""Every text-to-image parameter of Leonardo's `POST /generations`, in our snake_case names, and the
rules between them.

`ImageParameters` checks each field on its own (types, ranges, enums). The rules between fields
are checked by `check_rules`, which raises `InvalidCombination` naming the broken rule, so the API
answers 422 `invalid_combination` with `details.rule` instead of a FAILED (and perhaps paid) job
later. The rules, their names and their sources are listed in `RULES` and docs/parameters.md.
Leonardo's wire names for these fields are in recipes.py (one table, used both ways).

Alchemy: Leonardo's documented default is `true`, so an unset `alchemy` counts as on, except where
the request holds something alchemy cannot go with (ultra, a model without alchemy): there it is
settled as `false` before the rules run, so what we send is what we checked.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .errors import InvalidRequest
from .model_catalog import DEFAULT_MODEL_ID, SEED_CAP, STRENGTH_TYPES, ModelFamily, family_of, model_info
from .models import UUID_PATTERN

MAX_SEED = 2_147_483_637  # the smallest family cap: a seed we draw for a job fits every model


def job_seed(asked: int | None) -> int:
    """The caller's seed, else one drawn for the job: it makes the job's generation recognisable in
    Leonardo's list if its POST goes unanswered (DECISIONS.md)."""
    return asked if asked is not None else secrets.randbelow(MAX_SEED + 1)


Dimension = Annotated[int, Field(ge=32, le=1536, multiple_of=8)]
Number = Annotated[float, Field(strict=True)]  # a JSON number, never a string ("0.5" is refused)
ElementWeight = Annotated[float, Field(strict=True, ge=-1.0, le=2.0)]

PresetStyle = Literal[
    "ANIME", "BOKEH", "CINEMATIC", "CINEMATIC_CLOSEUP", "CREATIVE", "DYNAMIC", "ENVIRONMENT", "FASHION",
    "FILM", "FOOD", "GENERAL", "HDR", "ILLUSTRATION", "LEONARDO", "LONG_EXPOSURE", "MACRO", "MINIMALISTIC",
    "MONOCHROME", "MOODY", "NONE", "NEUTRAL", "PHOTOGRAPHY", "PORTRAIT", "RAYTRACED", "RENDER_3D", "RETRO",
    "SKETCH_BW", "SKETCH_COLOR", "STOCK_PHOTO", "VIBRANT", "UNPROCESSED",
]  # fmt: skip
Scheduler = Literal[
    "KLMS", "EULER_ANCESTRAL_DISCRETE", "EULER_DISCRETE", "DDIM", "DPM_SOLVER", "PNDM", "LEONARDO"
]
SdVersion = Literal[
    "v1_5", "v2", "v3", "SDXL_0_8", "SDXL_0_9", "SDXL_1_0", "SDXL_LIGHTNING", "PHOENIX", "FLUX", "FLUX_DEV",
    "KINO_2_0",
]  # fmt: skip
StrengthType = Literal["Low", "Mid", "High", "Ultra", "Max"]

# sd_generation_style: "When alchemy is disabled, use LEONARDO or NONE. When alchemy is enabled, use
# ANIME, CREATIVE, DYNAMIC, ENVIRONMENT, GENERAL, ILLUSTRATION, PHOTOGRAPHY, RAYTRACED, RENDER_3D,
# SKETCH_BW, SKETCH_COLOR, or NONE."
STYLES_WITHOUT_ALCHEMY = frozenset({"LEONARDO", "NONE"})
STYLES_WITH_ALCHEMY = frozenset({
    "ANIME", "CREATIVE", "DYNAMIC", "ENVIRONMENT", "GENERAL", "ILLUSTRATION", "PHOTOGRAPHY", "RAYTRACED",
    "RENDER_3D", "SKETCH_BW", "SKETCH_COLOR", "NONE",
})  # fmt: skip
CONTRASTS = (1.0, 1.3, 1.8, 2.5, 3.0, 3.5, 4.0, 4.5)  # contrast: "Accepts values [1.0, 1.3, ...]"


class InvalidCombination(InvalidRequest):
    """A rule between parameters is broken: 422 `invalid_combination`, `details.rule` naming it."""

    code = "invalid_combination"

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.reason = message  # the message without the rule's name

    @property
    def details(self) -> dict[str, str]:
        return {"rule": self.rule}

    def as_pydantic(self) -> PydanticCustomError:
        """The same refusal raised inside a pydantic validator (the API's current mapping of
        `invalid_combination` reads `ctx.rule` from it)."""
        return PydanticCustomError(
            "invalid_combination", "{rule}: {reason}", {"rule": self.rule, "reason": self.reason}
        )


class Element(BaseModel):
    """One of Leonardo's platform elements (a LoRA), by its akUUID, with a weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=UUID_PATTERN)
    weight: ElementWeight = 1.0

    @field_validator("id")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class UserElement(BaseModel):
    """One of our account's own trained elements, by Leonardo's numeric userLoraId, with a weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = Field(strict=True, ge=1)
    weight: ElementWeight = 1.0


class ControlNet(BaseModel):
    """Image guidance: one of the caller's uploads, through one of Leonardo's preprocessors (which
    depend on the model's family: model_catalog.py), with a weight or a strength type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    upload_id: str = Field(pattern=UUID_PATTERN)
    preprocessor_id: int = Field(strict=True, ge=1)
    weight: Number | None = None
    strength_type: StrengthType | None = None

    @field_validator("upload_id")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class ImageParameters(BaseModel):
    """The parameters of one text-to-image generation, each checked on its own; `check_rules`
    checks them together."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    prompt: str = Field(min_length=1, max_length=1500)
    negative_prompt: str | None = Field(default=None, max_length=1500)
    # None only for photoReal v1, which Leonardo runs without a model (settled below).
    model_id: str | None = Field(default=DEFAULT_MODEL_ID, pattern=UUID_PATTERN)
    width: Dimension = 1024
    height: Dimension = 1024
    num_images: int = Field(default=1, ge=1, le=8)
    seed: int | None = Field(default=None, ge=0, le=SEED_CAP)
    preset_style: PresetStyle | None = None
    alchemy: bool | None = None
    photo_real: bool | None = None
    photo_real_version: Literal["v1", "v2"] | None = None
    # low, medium, high depth of field (float Literal: pydantic validates it, mypy rejects the syntax)
    photo_real_strength: Literal[0.55, 0.5, 0.45] | None = None  # type: ignore[valid-type]
    contrast: float | None = Field(default=None, ge=1.0, le=4.5)  # the values: rule contrast_value
    contrast_ratio: float | None = Field(default=None, ge=0, le=1)
    ultra: bool | None = None
    guidance_scale: float | None = Field(default=None, ge=1, le=20)
    num_inference_steps: int | None = Field(default=None, ge=10, le=60)
    scheduler: Scheduler | None = None
    sd_version: SdVersion | None = None
    tiling: bool | None = None
    transparency: Literal["disabled", "foreground_only"] | None = None
    enhance_prompt: bool | None = None
    enhance_prompt_instruction: str | None = Field(default=None, min_length=1, max_length=1500)
    expanded_domain: bool | None = None
    fantasy_avatar: bool | None = None
    high_contrast: bool | None = None
    high_resolution: bool | None = None
    prompt_magic: bool | None = None
    prompt_magic_strength: float | None = Field(default=None, ge=0.1, le=1.0)
    prompt_magic_version: Literal["v2", "v3"] | None = None
    elements: list[Element] | None = Field(default=None, max_length=4)
    user_elements: list[UserElement] | None = Field(default=None, max_length=4)
    controlnets: list[ControlNet] | None = Field(default=None, max_length=4)  # the web app's 4 guides

    @model_validator(mode="before")
    @classmethod
    def _settle(cls, data: Any) -> Any:
        return settle(data) if isinstance(data, dict) else data

    @field_validator("model_id")
    @classmethod
    def _lower_uuid(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        # pydantic's stripping keeps e.g. "\x1e", which Leonardo treats as blank (found by fuzzing).
        if not value.strip():
            raise ValueError("prompt must not be blank")
        return value

    @model_validator(mode="after")
    def _image_count(self) -> ImageParameters:
        # num_images: "If either width or height is over 768, must be between 1 and 4." (a limit of
        # the field, answered like the other field limits)
        if (self.width > 768 or self.height > 768) and self.num_images > 4:
            raise ValueError("num_images must be at most 4 when width or height is over 768")
        return self


def settle(data: dict[str, Any]) -> dict[str, Any]:
    """What an unset field means, decided before validation so that what we send is what we checked:
    photoReal v1 gets no default model, and `alchemy` is settled as false where Leonardo's default
    (true) could not go with the rest of the request."""
    data = dict(data)
    if data.get("photo_real") and data.get("photo_real_version") != "v2" and "model_id" not in data:
        # photoReal v1 "Requires ... unspecifying modelId": no default model then.
        data["model_id"] = None
    if data.get("alchemy") is None:
        model_id = data.get("model_id", DEFAULT_MODEL_ID)
        family = family_of(model_id if isinstance(model_id, str) else None)
        if data.get("ultra") is True or not family.alchemy:
            # Leonardo's default (true) would break "ultra: can not be used with Alchemy" or a
            # model without alchemy: send false rather than leave it to the default.
            data["alchemy"] = False
    return data


@dataclass(frozen=True)
class Rule:
    name: str
    refuses: str
    source: str


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {rule.name: rule for rule in rules}


IMAGE_DOC = "image API document, POST /generations"
RULES = _rules(
    Rule("ultra_with_alchemy", "ultra with alchemy", f"{IMAGE_DOC}: ultra 'can not be used with Alchemy'"),
    Rule("ultra_model", "ultra on a model without ultra mode", "Phoenix guide: ultra generation mode"),
    Rule("alchemy_model", "alchemy on a model that does not take it",
         "Lucid Realism guide: alchemy 'not supported for Lucid Origin and Lucid Realism'"),
    Rule("photo_real_needs_alchemy", "photo_real with alchemy false",
         f"{IMAGE_DOC}: photoReal 'Requires enabling alchemy'"),
    Rule("photo_real_v1_without_model", "photoReal v1 with a model_id",
         f"{IMAGE_DOC}: photoReal 'unspecifying modelId (for photoRealVersion V1)'"),
    Rule("photo_real_v2_model", "photoReal v2 on a model other than Kino, Diffusion or Vision XL",
         "API FAQ: 'PhotoReal v2 requires Leonardo Kino XL, Leonardo Diffusion XL or Leonardo Vision XL'"),
    Rule("photo_real_options_need_photo_real", "photo_real_version or photo_real_strength without photo_real",
         f"ours: {IMAGE_DOC} describes both as options of photoReal"),
    Rule("contrast_value", "a contrast outside the documented values",
         f"{IMAGE_DOC}: contrast 'Accepts values [1.0, 1.3, 1.8, 2.5, 3, 3.5, 4, 4.5]'"),
    Rule("contrast_model", "contrast on a model outside Phoenix, Flux (and Lucid)",
         f"{IMAGE_DOC}: contrast 'Used in Phoenix and Flux models'; Lucid Realism guide"),
    Rule("contrast_with_alchemy", "Phoenix with alchemy (also by default) and a contrast under 2.5",
         f"{IMAGE_DOC}: 'For Phoenix, if alchemy is true, contrast needs to be 2.5 or higher'"),
    Rule("contrast_ratio_needs_alchemy", "contrast_ratio with alchemy false",
         f"{IMAGE_DOC}: contrastRatio 'to use with Alchemy'"),
    Rule("expanded_domain_needs_alchemy", "expanded_domain with alchemy false",
         f"{IMAGE_DOC}: expandedDomain 'the Expanded Domain feature of Alchemy'"),
    Rule("preset_style_without_alchemy", "alchemy false with a style other than LEONARDO or NONE",
         f"{IMAGE_DOC}: presetStyle 'When alchemy is disabled, use LEONARDO or NONE'"),
    Rule("preset_style_with_alchemy",
         "alchemy (also by default), no photoReal, a non-XL model, and a style outside the alchemy list",
         f"{IMAGE_DOC}: presetStyle 'When alchemy is enabled, use ANIME, ...'; not on XL models, where the "
         "Alchemy guide itself runs CINEMATIC with alchemy on Kino XL"),
    Rule("seed_over_family_cap", "a seed above the model family's cap",
         f"{IMAGE_DOC}: seed '2147483637 for Flux and 9999999998 for other models'"),
    Rule("enhance_prompt_instruction_needs_enhance_prompt",
         "enhance_prompt_instruction without enhance_prompt",
         f"{IMAGE_DOC}: enhancePromptInstruction 'When enhancePrompt is enabled'"),
    Rule("prompt_magic_options_need_prompt_magic",
         "prompt_magic_strength or prompt_magic_version without prompt_magic",
         f"{IMAGE_DOC}: promptMagicVersion 'for use when promptMagic: true'"),
    Rule("transparency_model", "transparency foreground_only on a model not documented for it",
         "Transparency guide: Kino XL, 'one of the compatible models' (others: add them when sourced)"),
    Rule("controlnet_preprocessor", "a preprocessor id not listed for the model's family",
         "Image Guidance guide: preprocessor ids per base model (SD1.5, SD2.1, SDXL, Phoenix)"),
    Rule("controlnet_weight", "a ControlNet weight outside its range (0 to 2)",
         "Image Guidance guide: 'weight is a numeric value between 0-2'"),
    Rule("controlnet_strength_type", "a strength type the preprocessor does not take",
         f"{IMAGE_DOC}: strengthType 'Can only be used for Style, Character and Content Reference'; guide: "
         "'For Content Reference and Character Reference, Low, Mid, and High are supported'"),
    Rule("controlnet_weight_or_strength", "a ControlNet with both weight and strength_type",
         "Image Guidance guide: 'Either parameters can be used ..., but not both at the same time'"),
    Rule("controlnet_with_init_image",
         "with an init image on an XL model, a preprocessor other than 67 or 133",
         "Image Guidance guide: 'Image to Image with multiple ControlNets is incompatible with most SDXL "
         "models, except for Style Reference (67) and Character Reference (133)'"),
)  # fmt: skip


def broken_rules(params: ImageParameters, *, init_image: bool = False) -> list[InvalidCombination]:
    """Every rule `params` breaks, in RULES order (empty: the combination is acceptable).

    `init_image`: the generation is guided by an image (image-to-image, edit, canvas): the request
    model knows, these parameters do not.
    """
    p, model = params, model_info(params.model_id)
    family = family_of(p.model_id)
    alchemy_on = p.alchemy is not False  # unset: Leonardo's default, true
    v1 = bool(p.photo_real) and p.photo_real_version != "v2"
    found: list[tuple[str, bool, str]] = [
        ("ultra_with_alchemy", bool(p.ultra) and p.alchemy is True, "ultra can not be used with alchemy"),
        ("ultra_model", bool(p.ultra) and not family.ultra,
         f"ultra mode is not available on a {family.name} model"),
        ("alchemy_model", p.alchemy is True and not family.alchemy,
         f"a {family.name} model does not take alchemy: leave it unset or false"),
        ("photo_real_needs_alchemy", bool(p.photo_real) and p.alchemy is False, "photo_real needs alchemy"),
        ("photo_real_v1_without_model", v1 and p.model_id is not None,
         "photoReal v1 runs without a model: leave model_id out, or use photo_real_version v2"),
        ("photo_real_v2_model",
         bool(p.photo_real) and p.photo_real_version == "v2" and not (model and model.photo_real_v2),
         "photoReal v2 runs on Leonardo Kino XL, Diffusion XL or Vision XL"),
        ("photo_real_options_need_photo_real",
         (p.photo_real_version is not None or p.photo_real_strength is not None) and not p.photo_real,
         "photo_real_version and photo_real_strength need photo_real"),
        ("contrast_value",
         p.contrast is not None and not any(abs(p.contrast - value) < 1e-9 for value in CONTRASTS),
         f"contrast is one of {', '.join(f'{value:g}' for value in CONTRASTS)}"),
        ("contrast_model", p.contrast is not None and not family.contrast,
         f"contrast is for Phoenix and Flux models, not a {family.name} model"),
        ("contrast_with_alchemy",
         p.contrast is not None and alchemy_on and family.alchemy_contrast_min is not None
         and p.contrast < family.alchemy_contrast_min,
         f"with alchemy (Leonardo's default) on a {family.name} model, contrast is at least "
         f"{family.alchemy_contrast_min}"),
        ("contrast_ratio_needs_alchemy", p.contrast_ratio is not None and p.alchemy is False,
         "contrast_ratio is an alchemy setting"),
        ("expanded_domain_needs_alchemy", bool(p.expanded_domain) and p.alchemy is False,
         "expanded_domain is an alchemy feature"),
        ("preset_style_without_alchemy",
         p.alchemy is False and p.preset_style is not None and p.preset_style not in STYLES_WITHOUT_ALCHEMY,
         "without alchemy the preset style is LEONARDO or NONE"),
        ("preset_style_with_alchemy",
         alchemy_on and not p.photo_real and not family.alchemy_v2 and p.preset_style is not None
         and p.preset_style not in STYLES_WITH_ALCHEMY,
         f"with alchemy (Leonardo's default) on a {family.name} model the preset style is one of "
         f"{', '.join(sorted(STYLES_WITH_ALCHEMY))}"),
        ("seed_over_family_cap", p.seed is not None and p.seed > family.seed_cap,
         f"seeds of a {family.name} model are at most {family.seed_cap}"),
        ("enhance_prompt_instruction_needs_enhance_prompt",
         p.enhance_prompt_instruction is not None and not p.enhance_prompt,
         "enhance_prompt_instruction needs enhance_prompt"),
        ("prompt_magic_options_need_prompt_magic",
         (p.prompt_magic_strength is not None or p.prompt_magic_version is not None) and not p.prompt_magic,
         "prompt_magic_strength and prompt_magic_version need prompt_magic"),
        ("transparency_model",
         p.transparency == "foreground_only" and not (model and model.transparency),
         "transparency foreground_only is documented for Leonardo Kino XL only"),
    ]  # fmt: skip
    found += _controlnet_rules(p, family, init_image)
    return [InvalidCombination(rule, message) for rule, broken, message in found if broken]


def _controlnet_rules(
    p: ImageParameters, family: ModelFamily, init_image: bool
) -> list[tuple[str, bool, str]]:
    found = []
    for index, net in enumerate(p.controlnets or []):
        where = f"controlnets[{index}]"
        preprocessor = family.preprocessors.get(net.preprocessor_id)
        if preprocessor is None:
            listed = ", ".join(map(str, sorted(family.preprocessors))) or "none"
            found.append(("controlnet_preprocessor", True,
                          f"{where}: preprocessor {net.preprocessor_id} is not one of a {family.name} "
                          f"model's ({listed})"))  # fmt: skip
            continue
        low, high = preprocessor.weight
        found += [
            ("controlnet_weight", net.weight is not None and not low <= net.weight <= high,
             f"{where}: the weight of {preprocessor.name} is between {low:g} and {high:g}"),
            ("controlnet_strength_type",
             net.strength_type is not None and net.strength_type not in preprocessor.strength_types,
             f"{where}: {preprocessor.name} takes strength_type "
             f"{', '.join(s for s in STRENGTH_TYPES if s in preprocessor.strength_types) or 'none'}"),
            ("controlnet_weight_or_strength", net.weight is not None and net.strength_type is not None,
             f"{where}: weight or strength_type, not both"),
            ("controlnet_with_init_image",
             init_image and net.preprocessor_id not in (family.with_init_image or {net.preprocessor_id}),
             f"{where}: with an init image a {family.name} model takes only preprocessors "
             f"{', '.join(map(str, sorted(family.with_init_image or ())))}"),
        ]  # fmt: skip
    return found


def check_rules(params: ImageParameters, *, init_image: bool = False) -> None:
    """Raise `InvalidCombination` for the first rule `params` breaks (RULES order)."""
    if broken := broken_rules(params, init_image=init_image):
        raise broken[0]
