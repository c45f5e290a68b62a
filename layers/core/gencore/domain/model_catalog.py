"""What we know about Leonardo's platform models that `/platformModels` does not say: each model's
family, what the family allows (seed range, contrast, alchemy, ultra, ControlNet preprocessors), and
the few features Leonardo documents per model (photoReal v2, transparency).

A versioned table of ours. Sources (quoted in docs/parameters.md, "Model catalog"):
- image API document (`POST /generations`): seed "2147483637 for Flux and 9999999998 for other
  models"; contrast "Used in Phoenix and Flux models ... For Phoenix, if alchemy is true, contrast
  needs to be 2.5 or higher"; `controlnet_input.preprocessorId` "A list of compatible IDs can be found
  in our guides".
- Leonardo's guides: the Image Guidance preprocessor table (SD1.5, SD2.1, SDXL, Phoenix columns),
  its strengthType/weight buckets and the SDXL image-to-image note; the API FAQ ("PhotoReal v2
  requires Leonardo Kino XL, Leonardo Diffusion XL or Leonardo Vision XL"); the Alchemy guide (which
  models run Alchemy v2); the Phoenix guide (ultra mode); the Lucid Realism guide (alchemy "not
  supported for Lucid Origin and Lucid Realism"); the Transparency guide (Kino XL "one of the
  compatible models").

A model not in the table gets the strictest family: the smallest seed cap and none of the
family-specific features, so a request we accept is never refused later for its model.
Update: add the model under its family (or a family with its documented features), bump
CATALOG_VERSION, cite the source in docs/parameters.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

CATALOG_VERSION = "2026-12-04"
DEFAULT_MODEL_ID = "b24e16ff-06e3-43eb-8d33-4416c2d75876"  # Leonardo Lightning XL (Leonardo's default too)
FLUX_SEED_CAP = 2_147_483_637
SEED_CAP = 9_999_999_998

STRENGTH_TYPES = ("Low", "Mid", "High", "Ultra", "Max")  # controlnet_input.strengthType, in order
REFERENCE_STRENGTHS = frozenset({"Low", "Mid", "High"})  # Character and Content Reference
CONTROLNET_WEIGHT = (0.0, 2.0)  # "The parameter weight is a numeric value between 0-2"


@dataclass(frozen=True)
class Preprocessor:
    """A ControlNet (image guidance) of one base model, by Leonardo's preprocessor id."""

    id: int
    name: str
    weight: tuple[float, float] = CONTROLNET_WEIGHT
    # strengthType levels it takes; empty: it takes none ("Can only be used for Style, Character and
    # Content Reference controlnets").
    strength_types: frozenset[str] = frozenset()


def _preprocessors(*items: Preprocessor) -> Mapping[int, Preprocessor]:
    return {item.id: item for item in items}


STYLE = frozenset(STRENGTH_TYPES)  # "Style Reference supports Low to Max"
SDXL_PREPROCESSORS = _preprocessors(
    Preprocessor(67, "style_reference", strength_types=STYLE),
    Preprocessor(133, "character_reference", strength_types=REFERENCE_STRENGTHS),
    Preprocessor(100, "content_reference", strength_types=REFERENCE_STRENGTHS),
    Preprocessor(19, "edge_to_image"),
    Preprocessor(20, "depth_to_image"),
    Preprocessor(21, "pose_to_image"),
    Preprocessor(22, "text_image_input"),
)
SD15_PREPROCESSORS = _preprocessors(
    Preprocessor(1, "edge_to_image"),
    Preprocessor(3, "depth_to_image"),
    Preprocessor(7, "pose_to_image"),
    Preprocessor(11, "text_image_input"),
    Preprocessor(10, "sketch_to_image"),
    Preprocessor(6, "normal_map"),
    Preprocessor(5, "line_art"),
    Preprocessor(8, "pattern_to_image"),
    Preprocessor(9, "qr_code_to_image"),
)
SD21_PREPROCESSORS = _preprocessors(
    Preprocessor(12, "edge_to_image"),
    Preprocessor(13, "depth_to_image"),
    Preprocessor(16, "pose_to_image"),
    Preprocessor(18, "text_image_input"),
    Preprocessor(17, "sketch_to_image"),
    Preprocessor(15, "normal_map"),
)
PHOENIX_PREPROCESSORS = _preprocessors(Preprocessor(166, "style_reference", strength_types=STYLE))
# "Image to Image with multiple ControlNets is incompatible with most SDXL models, except for Style
# Reference (67) and Character Reference (133)."
SDXL_WITH_INIT_IMAGE = frozenset({67, 133})


@dataclass(frozen=True)
class ModelFamily:
    name: str
    seed_cap: int
    contrast: bool = False  # takes `contrast`
    alchemy_contrast_min: float | None = None  # with alchemy, contrast must be at least this
    # Some model of the family runs photoReal v2 (which ones: ModelInfo.photo_real_v2).
    photo_real_v2: bool = False
    ultra: bool = False  # ultra mode
    alchemy: bool = True  # takes alchemy (Leonardo applies it to most models; its default is true)
    alchemy_v2: bool = False  # an XL family: Leonardo's Alchemy guide runs newer preset styles on it
    preprocessors: Mapping[int, Preprocessor] = field(default_factory=dict)
    # With an init image, only these preprocessors (None: no documented restriction).
    with_init_image: frozenset[int] | None = None


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    family: str
    photo_real_v2: bool = False  # FAQ: Kino XL, Diffusion XL, Vision XL
    transparency: bool = False  # `transparency: foreground_only` documented for it


FAMILIES: dict[str, ModelFamily] = {
    family.name: family
    for family in (
        ModelFamily(
            "phoenix", SEED_CAP, contrast=True, alchemy_contrast_min=2.5, ultra=True,
            preprocessors=PHOENIX_PREPROCESSORS,
        ),
        ModelFamily("flux", FLUX_SEED_CAP, contrast=True),
        ModelFamily("lucid", SEED_CAP, contrast=True, alchemy=False),
        ModelFamily(
            "sdxl", SEED_CAP, photo_real_v2=True, alchemy_v2=True, preprocessors=SDXL_PREPROCESSORS,
            with_init_image=SDXL_WITH_INIT_IMAGE,
        ),
        ModelFamily(
            "sdxl_lightning", SEED_CAP, alchemy_v2=True, preprocessors=SDXL_PREPROCESSORS,
            with_init_image=SDXL_WITH_INIT_IMAGE,
        ),
        ModelFamily("sd21", SEED_CAP, preprocessors=SD21_PREPROCESSORS),
        ModelFamily("sd15", SEED_CAP, preprocessors=SD15_PREPROCESSORS),
        ModelFamily("unknown", FLUX_SEED_CAP),
    )
}  # fmt: skip

MODELS: dict[str, ModelInfo] = {
    model.id: model
    for model in (
        ModelInfo("de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3", "Leonardo Phoenix 1.0", "phoenix"),
        ModelInfo("6b645e3a-d64f-4341-a6d8-7a3690fbf042", "Leonardo Phoenix 0.9", "phoenix"),
        ModelInfo("b2614463-296c-462a-9586-aafdb8f00e36", "Flux Dev", "flux"),
        ModelInfo("1dd50843-d653-4516-a8e3-f0238ee453ff", "Flux Schnell", "flux"),
        ModelInfo("05ce0082-2d80-4a2d-8653-4d1c85e2418e", "Lucid Realism", "lucid"),
        ModelInfo("aa77f04e-3eec-4034-9c07-d0f619684628", "Leonardo Kino XL", "sdxl",
                  photo_real_v2=True, transparency=True),
        ModelInfo("5c232a9e-9061-4777-980a-ddc8e65647c6", "Leonardo Vision XL", "sdxl",
                  photo_real_v2=True),
        ModelInfo("1e60896f-3c26-4296-8ecc-53e2afecc132", "Leonardo Diffusion XL", "sdxl",
                  photo_real_v2=True),
        ModelInfo("2067ae52-33fd-4a82-bb92-c2c55e7d2786", "AlbedoBase XL", "sdxl"),
        ModelInfo("e71a1c2f-4f80-4800-934f-2c68979d8cc8", "Leonardo Anime XL", "sdxl"),
        ModelInfo("b24e16ff-06e3-43eb-8d33-4416c2d75876", "Leonardo Lightning XL", "sdxl_lightning"),
        ModelInfo("6bef9f1b-29cb-40c7-b9df-32b51c1f67d3", "Leonardo Creative", "sd21"),
    )
}  # fmt: skip

# Leonardo's `sd_version` (as /platformModels reports it) -> our family, for a model we do not list.
FAMILY_BY_SD_VERSION: dict[str, str] = {
    "v1_5": "sd15", "v2": "sd21", "SDXL_0_8": "sdxl", "SDXL_0_9": "sdxl", "SDXL_1_0": "sdxl",
    "SDXL_LIGHTNING": "sdxl_lightning", "PHOENIX": "phoenix", "FLUX": "flux", "FLUX_DEV": "flux",
}  # fmt: skip


def model_info(model_id: str | None) -> ModelInfo | None:
    """The model as our table knows it, or None."""
    return MODELS.get((model_id or "").lower())


def family_of(model_id: str | None, sd_version: str | None = None) -> ModelFamily:
    """The model's family: from our table, else from Leonardo's `sd_version` for it when the caller
    knows it (the model cache); an unknown model (or none) gets the strictest one."""
    known = model_info(model_id)
    name = known.family if known else FAMILY_BY_SD_VERSION.get(sd_version or "", "unknown")
    return FAMILIES[name]
