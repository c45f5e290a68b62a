"""A small, fixed platform-model catalogue (real Leonardo ids and names), and what each model's
base version allows: the simulator's own table, so it refuses what Leonardo refuses.

Sources (docs/leonardo-simulator.md, "Rules between fields"):
- image document, `seed`: "The maximum seed value is 2147483637 for Flux and 9999999998 for other
  models"; `contrast`: "Used in Phoenix and Flux models ... For Phoenix, if alchemy is true, contrast
  needs to be 2.5 or higher"; `controlnet_input.preprocessorId`: "A list of compatible IDs can be
  found in our guides".
- Leonardo's Image Guidance guide: the preprocessor ids per base model (SD1.5, SD2.1, SDXL, Phoenix)
  and "weight is a numeric value between 0-2"; strengthType only on Style, Character and Content
  Reference (the document says so too).
- Leonardo's API FAQ: "PhotoReal v2 requires Leonardo Kino XL, Leonardo Diffusion XL or Leonardo
  Vision XL".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlatformModel:
    id: str
    name: str
    description: str
    sd_version: str
    featured: bool
    width: int
    height: int
    photo_real_v2: bool = False  # one of the three models the FAQ names for photoReal v2


PLATFORM_MODELS: tuple[PlatformModel, ...] = (
    PlatformModel(
        "b24e16ff-06e3-43eb-8d33-4416c2d75876",
        "Leonardo Lightning XL",
        "Our new high-speed generalist image generation model.",
        "SDXL_LIGHTNING",
        True,
        1024,
        1024,
    ),
    PlatformModel(
        "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3",
        "Leonardo Phoenix 1.0",
        "Leonardo's foundational model with exceptional prompt adherence.",
        "PHOENIX",
        True,
        1024,
        1024,
    ),
    PlatformModel(
        "aa77f04e-3eec-4034-9c07-d0f619684628",
        "Leonardo Kino XL",
        "A model with a strong focus on cinematic outputs.",
        "SDXL_1_0",
        True,
        1024,
        1024,
        photo_real_v2=True,
    ),
    PlatformModel(
        "6bef9f1b-29cb-40c7-b9df-32b51c1f67d3",
        "Leonardo Creative",
        "An alternative finetune of SD 2.1 that brings a little more creative interpretation to the mix.",
        "v2",
        False,
        768,
        768,
    ),
    PlatformModel(
        "b2614463-296c-462a-9586-aafdb8f00e36",
        "Flux Dev",
        "A 12 billion parameter flow model for detailed, prompt-faithful images.",
        "FLUX_DEV",
        True,
        1024,
        1024,
    ),
    PlatformModel(
        "1dd50843-d653-4516-a8e3-f0238ee453ff",
        "Flux Schnell",
        "The fast Flux model.",
        "FLUX",
        False,
        1024,
        1024,
    ),
    PlatformModel(
        "5c232a9e-9061-4777-980a-ddc8e65647c6",
        "Leonardo Vision XL",
        "A versatile model that excels at realism and photography.",
        "SDXL_1_0",
        True,
        1024,
        1024,
        photo_real_v2=True,
    ),
    PlatformModel(
        "1e60896f-3c26-4296-8ecc-53e2afecc132",
        "Leonardo Diffusion XL",
        "The next phase of the core Leonardo model: stunning outputs, even with short prompts.",
        "SDXL_0_9",
        True,
        1024,
        1024,
        photo_real_v2=True,
    ),
)

BY_ID = {model.id: model for model in PLATFORM_MODELS}

# -- what a base version allows -------------------------------------------------

FLUX_SEED_CAP = 2_147_483_637
SEED_CAP = 9_999_999_998
FLUX_VERSIONS = frozenset({"FLUX", "FLUX_DEV"})
CONTRAST_VERSIONS = frozenset({"PHOENIX", *FLUX_VERSIONS})
CONTROLNET_WEIGHT = (0.0, 2.0)  # Image Guidance guide: "a numeric value between 0-2"

# sd_version -> {preprocessorId: name}, from the Image Guidance guide.
_SDXL = {67: "Style Reference", 133: "Character Reference", 100: "Content Reference", 19: "Edge to Image",
         20: "Depth to Image", 21: "Pose to Image", 22: "Text Image Input"}  # fmt: skip
_SD15 = {1: "Edge to Image", 3: "Depth to Image", 7: "Pose to Image", 11: "Text Image Input",
         10: "Sketch to Image", 6: "Normal Map", 5: "Line Art", 8: "Pattern to Image",
         9: "QR Code to Image"}  # fmt: skip
_SD21 = {12: "Edge to Image", 13: "Depth to Image", 16: "Pose to Image", 18: "Text Image Input",
         17: "Sketch to Image", 15: "Normal Map"}  # fmt: skip
PREPROCESSORS: dict[str, dict[int, str]] = {
    "v1_5": _SD15,
    "v2": _SD21,
    "SDXL_0_8": _SDXL,
    "SDXL_0_9": _SDXL,
    "SDXL_1_0": _SDXL,
    "SDXL_LIGHTNING": _SDXL,
    "PHOENIX": {166: "Style Reference"},
}
KNOWN_PREPROCESSORS = frozenset(pid for table in PREPROCESSORS.values() for pid in table)
# "Image to Image with multiple ControlNets is incompatible with most SDXL models, except for Style
# Reference (67) and Character Reference (133)" (Image Guidance guide).
SDXL_WITH_INIT_IMAGE = frozenset({67, 133})
# "strengthType ... Can only be used for Style, Character and Content Reference controlnets."
REFERENCE_PREPROCESSORS = frozenset({67, 133, 100, 166})


def seed_cap(sd_version: str | None) -> int:
    return FLUX_SEED_CAP if sd_version in FLUX_VERSIONS else SEED_CAP


def sd_version_of(model_id: str | None, sd_version: str | None) -> str | None:
    """The base version a request runs on: its model's when the simulator knows the model, else its
    `sd_version`; with neither, the default model's (the document's default modelId). None: a model
    the simulator does not know (a custom model), so no version-specific rule applies."""
    model = BY_ID.get(model_id or "")
    if model is not None:
        return model.sd_version
    if sd_version:
        return sd_version
    return None if model_id else PLATFORM_MODELS[0].sd_version
