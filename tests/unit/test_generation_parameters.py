"""The generation request's parameters, read as a specification: every documented text-to-image
parameter in our names, and each rule between them refused with the rule's name (so the caller
gets a 422 `invalid_combination` before anything is paid, never a FAILED job later)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gencore.domain.kinds import Refs, kind_of
from gencore.domain.model_catalog import CATALOG_VERSION, FLUX_SEED_CAP, SEED_CAP, family_of
from gencore.domain.requests import ImageGenerationRequest

pytestmark = pytest.mark.unit
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
FLUX = "b2614463-296c-462a-9586-aafdb8f00e36"
KINO_XL = "aa77f04e-3eec-4034-9c07-d0f619684628"
UNKNOWN = "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"
PHOTO_REAL_V2 = {"photo_real": True, "photo_real_version": "v2", "alchemy": True}


def rule_of(**fields) -> str:
    with pytest.raises(ValidationError) as refused:
        ImageGenerationRequest(prompt="a fox", **fields)
    [problem] = refused.value.errors()
    assert problem["type"] == "invalid_combination", problem
    return problem["ctx"]["rule"]


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"ultra": True, "alchemy": True, "model_id": PHOENIX}, "ultra_with_alchemy"),
        ({"ultra": True}, "ultra_model"),  # the default model (Lightning XL) has no ultra mode
        ({"photo_real": True, "alchemy": False}, "photo_real_needs_alchemy"),
        (PHOTO_REAL_V2 | {"model_id": PHOENIX}, "photo_real_v2_model"),
        ({"photo_real": True, "alchemy": True, "model_id": KINO_XL}, "photo_real_v1_without_model"),
        ({"photo_real_strength": 0.5}, "photo_real_options_need_photo_real"),
        ({"contrast": 1.1, "model_id": PHOENIX}, "contrast_value"),
        ({"contrast": 3.5}, "contrast_model"),  # contrast is for Phoenix and Flux
        ({"contrast": 1.8, "alchemy": True, "model_id": PHOENIX}, "contrast_with_alchemy"),
        ({"contrast_ratio": 0.5}, "contrast_ratio_needs_alchemy"),
        ({"alchemy": False, "preset_style": "CINEMATIC"}, "preset_style_without_alchemy"),
        ({"alchemy": True, "preset_style": "LEONARDO"}, "preset_style_with_alchemy"),
        ({"seed": FLUX_SEED_CAP + 1, "model_id": FLUX}, "seed_over_family_cap"),
        ({"seed": FLUX_SEED_CAP + 1, "model_id": UNKNOWN}, "seed_over_family_cap"),  # unknown: strictest
        ({"enhance_prompt_instruction": "moody"}, "enhance_prompt_instruction_needs_enhance_prompt"),
        ({"prompt_magic_version": "v3"}, "prompt_magic_options_need_prompt_magic"),
        ({"init_strength": 0.5}, "init_strength_needs_source"),
        ({"canvas": {"mode": "inpaint"}}, "canvas_needs_init_and_mask"),
    ],
)  # fmt: skip
def test_each_rule_between_fields_is_refused_by_name(fields, rule):
    assert rule_of(**fields) == rule


@pytest.mark.parametrize(
    "fields",
    [
        {"ultra": True, "alchemy": False, "model_id": PHOENIX},
        {"photo_real": True, "alchemy": True},  # photoReal v1: no model
        {"photo_real": True, "photo_real_version": "v2", "alchemy": True, "model_id": KINO_XL,
         "photo_real_strength": 0.45, "preset_style": "CINEMATIC"},
        {"contrast": 3.5, "alchemy": True, "model_id": PHOENIX},
        {"contrast": 1.3, "alchemy": False, "model_id": PHOENIX, "preset_style": "NONE"},
        {"contrast": 1.0, "model_id": FLUX, "seed": FLUX_SEED_CAP},
        {"seed": SEED_CAP, "model_id": KINO_XL},
        {"alchemy": True, "preset_style": "DYNAMIC", "contrast_ratio": 0.4, "expanded_domain": True},
        {"enhance_prompt": True, "enhance_prompt_instruction": "moody, cinematic"},
        {"prompt_magic": True, "prompt_magic_version": "v3", "prompt_magic_strength": 0.5},
        {"elements": [{"id": "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11", "weight": 0.8}],
         "user_elements": [{"id": 1234, "weight": -0.5}], "scheduler": "LEONARDO", "sd_version": "SDXL_1_0",
         "tiling": True, "transparency": "foreground_only"},
    ],
)  # fmt: skip
def test_documented_combinations_are_accepted(fields):
    ImageGenerationRequest(prompt="a fox", **fields)


def test_photo_real_v1_is_stored_and_sent_without_a_model():
    request = ImageGenerationRequest(prompt="a portrait", photo_real=True, alchemy=True)
    assert request.model_id is None
    body = kind_of("text_to_image").build(request.normalized(), Refs(), 7).body
    assert "modelId" not in body and body["photoReal"] is True


def test_every_parameter_reaches_leonardo_in_its_wire_name():
    request = ImageGenerationRequest(
        prompt="a fox", model_id=PHOENIX, alchemy=True, contrast=3.5, preset_style="DYNAMIC",
        scheduler="LEONARDO", enhance_prompt=True, enhance_prompt_instruction="moody", ultra=False,
        elements=[{"id": UNKNOWN, "weight": 0.5}], user_elements=[{"id": 7, "weight": 1}], tiling=True,
        transparency="disabled", high_resolution=True,
    )  # fmt: skip
    body = kind_of("text_to_image").build(request.normalized(), Refs(), 99).body
    assert body | {"seed": 99} == body and {
        "modelId": PHOENIX, "alchemy": True, "contrast": 3.5, "presetStyle": "DYNAMIC",
        "scheduler": "LEONARDO",
        "enhancePrompt": True, "enhancePromptInstruction": "moody", "ultra": False, "tiling": True,
        "transparency": "disabled", "highResolution": True, "public": False,
        "elements": [{"akUUID": UNKNOWN, "weight": 0.5}], "userElements": [{"userLoraId": 7, "weight": 1.0}],
    }.items() <= body.items()  # fmt: skip


@pytest.mark.parametrize("weight", ["0.5", None, 3.0])
def test_element_weights_are_numbers_within_range(weight):
    with pytest.raises(ValidationError):
        ImageGenerationRequest(prompt="a fox", elements=[{"id": UNKNOWN, "weight": weight}])


def test_unknown_models_get_the_strictest_family():
    assert family_of(UNKNOWN).seed_cap == FLUX_SEED_CAP and not family_of(UNKNOWN).contrast
    assert family_of(PHOENIX.upper()).name == "phoenix" and CATALOG_VERSION
