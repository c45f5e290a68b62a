"""The generation request (POST /v1/generations), read as a specification: its parameters are
`ImageParameters` with their rules (tests/unit/test_parameters.py lists each rule), answered as a
422 `invalid_combination` naming the rule; on top, what is ours: the guiding image (`source`,
`init_upload_id`, `init_strength`), canvas jobs, ControlNet uploads, and what reaches Leonardo."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gencore.domain.kinds import Refs, kind_of
from gencore.domain.model_catalog import CATALOG_VERSION, FLUX_SEED_CAP, SEED_CAP, family_of
from gencore.domain.parameters import RULES
from gencore.domain.requests import ImageGenerationRequest

pytestmark = pytest.mark.unit
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
FLUX = "b2614463-296c-462a-9586-aafdb8f00e36"
KINO_XL = "aa77f04e-3eec-4034-9c07-d0f619684628"
CREATIVE = "6bef9f1b-29cb-40c7-b9df-32b51c1f67d3"  # SD 2.1
UNKNOWN = "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"
UPLOAD = "3f1c2b9e-8d7a-4e6f-9a0b-1c2d3e4f5a6b"
GUIDE = "7d4e1f2a-0b3c-4d5e-8f6a-9b0c1d2e3f4a"
MASK = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def rule_of(**fields) -> str:
    with pytest.raises(ValidationError) as refused:
        ImageGenerationRequest(prompt="a fox", **fields)
    [problem] = refused.value.errors()
    assert problem["type"] == "invalid_combination", problem
    assert problem["msg"].startswith(problem["ctx"]["rule"] + ": ")
    return problem["ctx"]["rule"]


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"ultra": True, "alchemy": True, "model_id": PHOENIX}, "ultra_with_alchemy"),
        ({"photo_real": True, "alchemy": False}, "photo_real_needs_alchemy"),
        ({"contrast": 1.8, "model_id": PHOENIX}, "contrast_with_alchemy"),  # alchemy by Leonardo's default
        ({"seed": FLUX_SEED_CAP + 1, "model_id": FLUX}, "seed_over_family_cap"),
        ({"controlnets": [{"upload_id": GUIDE, "preprocessor_id": 1}]}, "controlnet_preprocessor"),
    ],
)  # fmt: skip
def test_a_parameter_rule_is_refused_through_the_request_by_its_name(fields, rule):
    assert rule in RULES and rule_of(**fields) == rule


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"init_strength": 0.5}, "init_strength_needs_source"),
        ({"canvas": {"mode": "inpaint"}}, "canvas_needs_init_and_mask"),
        ({"canvas": {"mode": "inpaint"}, "source": {"upload_id": UPLOAD}}, "canvas_needs_init_and_mask"),
        ({"source": {"upload_id": UPLOAD, "mask_upload_id": MASK}}, "mask_needs_canvas"),
        ({"source": {"upload_id": UPLOAD}, "init_upload_id": UPLOAD}, "source_one_of"),
        ({"source": {"job_id": "j-1"}}, "source_image_index"),
        ({"source": {}}, "source_one_of"),
        ({"source": {"job_id": "j-1", "index": 0, "mask_upload_id": MASK}}, "mask_needs_upload"),
        ({"leonardo": {"prompt": "a fox"}}, "leonardo_alone"),  # with our `prompt` beside it
    ],
)  # fmt: skip
def test_each_rule_of_our_own_fields_is_refused_by_name(fields, rule):
    assert rule_of(**fields) == rule


def test_a_controlnet_with_a_guiding_image_on_an_xl_model_is_style_or_character_reference_only():
    source = {"source": {"upload_id": UPLOAD}}
    depth = {"upload_id": GUIDE, "preprocessor_id": 19}
    assert rule_of(controlnets=[depth], **source) == "controlnet_with_init_image"
    ImageGenerationRequest(prompt="a fox", controlnets=[depth])  # without an init image: fine
    request = ImageGenerationRequest(
        prompt="a fox", controlnets=[{"upload_id": GUIDE.upper(), "preprocessor_id": 67}], **source
    )
    assert request.guide_upload_ids == [GUIDE]


@pytest.mark.parametrize(
    "fields",
    [
        {"ultra": True, "model_id": PHOENIX},  # alchemy settled as false, not Leonardo's default
        {"photo_real": True},  # photoReal v1: alchemy by default, no model
        {"photo_real": True, "photo_real_version": "v2", "model_id": KINO_XL, "photo_real_strength": 0.45,
         "preset_style": "CINEMATIC"},
        {"contrast": 3.5, "model_id": PHOENIX},
        {"contrast": 1.3, "alchemy": False, "model_id": PHOENIX, "preset_style": "NONE"},
        {"contrast": 1.0, "model_id": FLUX, "seed": FLUX_SEED_CAP},
        {"seed": SEED_CAP, "model_id": KINO_XL},
        {"preset_style": "CINEMATIC"},  # alchemy on an XL model: not limited to the alchemy list
        {"model_id": CREATIVE, "preset_style": "DYNAMIC", "contrast_ratio": 0.4, "expanded_domain": True},
        {"enhance_prompt": True, "enhance_prompt_instruction": "moody, cinematic"},
        {"prompt_magic": True, "prompt_magic_version": "v3", "prompt_magic_strength": 0.5},
        {"elements": [{"id": UNKNOWN, "weight": 0.8}], "user_elements": [{"id": 1234, "weight": -0.5}],
         "scheduler": "LEONARDO", "sd_version": "SDXL_1_0", "tiling": True},
        {"transparency": "foreground_only", "model_id": KINO_XL, "alchemy": False},
        {"source": {"upload_id": UPLOAD}, "init_strength": 0.4},
        {"init_upload_id": UPLOAD},
        {"source": {"job_id": "j-1", "index": 2}, "init_strength": 0.3},
        {"canvas": {"mode": "outpaint"}, "source": {"upload_id": UPLOAD, "mask_upload_id": MASK}},
        {"controlnets": [{"upload_id": GUIDE, "preprocessor_id": 67, "strength_type": "High"},
                         {"upload_id": UPLOAD, "preprocessor_id": 19, "weight": 0.75}]},
    ],
)  # fmt: skip
def test_documented_combinations_are_accepted(fields):
    ImageGenerationRequest(prompt="a fox", **fields)


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({}, "text_to_image"),
        ({"source": {"upload_id": UPLOAD}}, "image_to_image"),
        ({"init_upload_id": UPLOAD}, "image_to_image"),
        ({"source": {"job_id": "j-1", "index": 0}}, "edit"),
        ({"canvas": {"mode": "sketch2img"}, "source": {"upload_id": UPLOAD, "mask_upload_id": MASK}},
         "sketch2img"),
        ({"canvas": {"mode": "img2img"}, "source": {"upload_id": UPLOAD, "mask_upload_id": MASK}},
         "image_to_image"),
    ],
)  # fmt: skip
def test_the_request_names_its_kind(fields, kind):
    assert ImageGenerationRequest(prompt="a fox", **fields).kind == kind


def test_the_stored_request_names_its_source_never_the_synonym_or_the_paste():
    stored = ImageGenerationRequest(prompt="a fox", init_upload_id=UPLOAD.upper()).normalized()
    assert stored["source"] == {"upload_id": UPLOAD} and "init_upload_id" not in stored
    pasted = ImageGenerationRequest(leonardo={"prompt": "a fox", "modelId": PHOENIX}).normalized()
    assert "leonardo" not in pasted and pasted["model_id"] == PHOENIX


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


def test_an_unset_alchemy_is_left_to_leonardo_and_a_settled_one_is_sent():
    body = kind_of("text_to_image").build(ImageGenerationRequest(prompt="a fox").normalized(), Refs(), 1).body
    assert "alchemy" not in body  # Leonardo's default: on, as the rules assumed
    ultra = ImageGenerationRequest(prompt="a fox", ultra=True, model_id=PHOENIX).normalized()
    assert kind_of("text_to_image").build(ultra, Refs(), 1).body["alchemy"] is False


def test_controlnets_reach_leonardo_as_the_init_images_their_uploads_became():
    request = ImageGenerationRequest(
        prompt="a fox", controlnets=[{"upload_id": GUIDE, "preprocessor_id": 67, "strength_type": "Mid"}]
    )
    refs = Refs(guide_image_ids={GUIDE: "leo-init-1"})
    body = kind_of("text_to_image").build(request.normalized(), refs, 5).body
    assert body["controlnets"] == [
        {
            "initImageId": "leo-init-1",
            "initImageType": "UPLOADED",
            "preprocessorId": 67,
            "strengthType": "Mid",
        }
    ]


@pytest.mark.parametrize("weight", ["0.5", None, 3.0])
def test_element_weights_are_numbers_within_range(weight):
    with pytest.raises(ValidationError):
        ImageGenerationRequest(prompt="a fox", elements=[{"id": UNKNOWN, "weight": weight}])


def test_unknown_models_get_the_strictest_family():
    assert family_of(UNKNOWN).seed_cap == FLUX_SEED_CAP and not family_of(UNKNOWN).contrast
    assert family_of(PHOENIX.upper()).name == "phoenix" and CATALOG_VERSION
