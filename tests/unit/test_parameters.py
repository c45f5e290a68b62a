"""Text-to-image parameters, read as a specification (domain/parameters.py): every documented field in
our names with its limits, and each rule between fields refused by name (`InvalidCombination`, 422
`invalid_combination` with `details.rule`) before anything is paid."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gencore.domain.errors import InvalidRequest
from gencore.domain.model_catalog import DEFAULT_MODEL_ID, FLUX_SEED_CAP, SEED_CAP
from gencore.domain.parameters import (
    RULES,
    ImageParameters,
    InvalidCombination,
    broken_rules,
    check_rules,
)

pytestmark = pytest.mark.unit
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
FLUX = "b2614463-296c-462a-9586-aafdb8f00e36"
KINO_XL = "aa77f04e-3eec-4034-9c07-d0f619684628"
ANIME_XL = "e71a1c2f-4f80-4800-934f-2c68979d8cc8"
CREATIVE = "6bef9f1b-29cb-40c7-b9df-32b51c1f67d3"  # SD 2.1
LUCID = "05ce0082-2d80-4a2d-8653-4d1c85e2418e"
UNKNOWN = "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"
UPLOAD = "3f1c2b9e-8d7a-4e6f-9a0b-1c2d3e4f5a6b"


def net(preprocessor_id: int, **fields) -> dict:
    return {"upload_id": UPLOAD, "preprocessor_id": preprocessor_id, **fields}


def rule_of(init_image: bool = False, **fields) -> str:
    params = ImageParameters(prompt="a fox", **fields)
    with pytest.raises(InvalidCombination) as refused:
        check_rules(params, init_image=init_image)
    return refused.value.rule


# (rule, a combination that breaks it, the nearest combination that keeps it)
CASES = [
    ("ultra_with_alchemy", {"ultra": True, "alchemy": True, "model_id": PHOENIX},
     {"ultra": True, "alchemy": False, "model_id": PHOENIX}),
    ("ultra_model", {"ultra": True, "model_id": KINO_XL}, {"ultra": True, "model_id": PHOENIX}),
    ("alchemy_model", {"alchemy": True, "model_id": LUCID, "contrast": 3.5},
     {"alchemy": False, "model_id": LUCID, "contrast": 3.5}),
    ("photo_real_needs_alchemy", {"photo_real": True, "alchemy": False},
     {"photo_real": True, "alchemy": True}),
    ("photo_real_v1_without_model", {"photo_real": True, "model_id": KINO_XL}, {"photo_real": True}),
    ("photo_real_v2_model", {"photo_real": True, "photo_real_version": "v2", "model_id": ANIME_XL},
     {"photo_real": True, "photo_real_version": "v2", "model_id": KINO_XL}),
    ("photo_real_options_need_photo_real", {"photo_real_strength": 0.5},
     {"photo_real": True, "photo_real_strength": 0.5}),
    ("contrast_value", {"contrast": 1.1, "model_id": FLUX}, {"contrast": 1.3, "model_id": FLUX}),
    ("contrast_model", {"contrast": 3.5, "model_id": KINO_XL}, {"contrast": 3.5, "model_id": FLUX}),
    ("contrast_with_alchemy", {"contrast": 1.8, "model_id": PHOENIX},  # alchemy by Leonardo's default
     {"contrast": 1.8, "model_id": PHOENIX, "alchemy": False}),
    ("contrast_ratio_needs_alchemy", {"contrast_ratio": 0.5, "alchemy": False}, {"contrast_ratio": 0.5}),
    ("expanded_domain_needs_alchemy", {"expanded_domain": True, "alchemy": False},
     {"expanded_domain": True, "alchemy": True}),
    ("preset_style_without_alchemy", {"alchemy": False, "preset_style": "CINEMATIC"},
     {"alchemy": False, "preset_style": "LEONARDO"}),
    ("preset_style_with_alchemy", {"model_id": CREATIVE, "alchemy": True, "preset_style": "LEONARDO"},
     {"model_id": CREATIVE, "alchemy": True, "preset_style": "ANIME"}),
    ("seed_over_family_cap", {"seed": FLUX_SEED_CAP + 1, "model_id": FLUX},
     {"seed": FLUX_SEED_CAP, "model_id": FLUX}),
    ("enhance_prompt_instruction_needs_enhance_prompt", {"enhance_prompt_instruction": "moody"},
     {"enhance_prompt": True, "enhance_prompt_instruction": "moody"}),
    ("prompt_magic_options_need_prompt_magic", {"prompt_magic_version": "v3"},
     {"prompt_magic": True, "prompt_magic_version": "v3"}),
    ("transparency_model", {"transparency": "foreground_only"},
     {"transparency": "foreground_only", "model_id": KINO_XL, "alchemy": False}),
    ("controlnet_preprocessor", {"controlnets": [net(1)]}, {"controlnets": [net(19)]}),
    ("controlnet_weight", {"controlnets": [net(19, weight=2.5)]}, {"controlnets": [net(19, weight=2.0)]}),
    ("controlnet_strength_type", {"controlnets": [net(133, strength_type="Max")]},
     {"controlnets": [net(67, strength_type="Max")]}),
    ("controlnet_weight_or_strength", {"controlnets": [net(67, weight=1.0, strength_type="High")]},
     {"controlnets": [net(67, strength_type="High")]}),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "broken", "kept"), CASES, ids=[case[0] for case in CASES])
def test_each_rule_refuses_its_combination_by_name(rule, broken, kept):
    # Given a combination the documents forbid, When the rules are checked, Then the rule is named.
    assert rule_of(**broken) == rule


@pytest.mark.parametrize(("rule", "broken", "kept"), CASES, ids=[case[0] for case in CASES])
def test_each_rule_accepts_its_documented_combination(rule, broken, kept):
    check_rules(ImageParameters(prompt="a fox", **kept))


def test_with_an_init_image_an_xl_model_takes_only_style_and_character_reference():
    assert rule_of(init_image=True, controlnets=[net(19)]) == "controlnet_with_init_image"
    check_rules(ImageParameters(prompt="a fox", controlnets=[net(67), net(133)]), init_image=True)


def test_every_rule_is_documented_with_its_source():
    assert {case[0] for case in CASES} | {"controlnet_with_init_image"} == set(RULES)
    assert all(rule.source and rule.refuses for rule in RULES.values())


def test_the_refusal_is_an_invalid_request_coded_invalid_combination_with_the_rule_in_details():
    with pytest.raises(InvalidCombination) as refused:
        check_rules(ImageParameters(prompt="a fox", contrast=1.1, model_id=FLUX))
    error = refused.value
    assert isinstance(error, InvalidRequest) and error.code == "invalid_combination"
    assert error.details == {"rule": "contrast_value"} and error.message.startswith("contrast_value: ")


def test_the_refusal_can_be_raised_inside_a_pydantic_validator_too():
    problem = InvalidCombination("contrast_value", "contrast is one of ...").as_pydantic()
    assert problem.type == "invalid_combination" and problem.context["rule"] == "contrast_value"


def test_every_broken_rule_is_listed_not_only_the_first():
    params = ImageParameters(prompt="a fox", contrast=1.1, seed=SEED_CAP)  # default model: Lightning XL
    assert [e.rule for e in broken_rules(params)] == ["contrast_value", "contrast_model"]


def test_an_unknown_model_gets_the_smallest_seed_cap():
    assert rule_of(seed=FLUX_SEED_CAP + 1, model_id=UNKNOWN) == "seed_over_family_cap"


def test_photo_real_v1_runs_without_a_model():
    assert ImageParameters(prompt="a portrait", photo_real=True, alchemy=True).model_id is None


def test_ultra_settles_alchemy_as_false_rather_than_leonardos_default():
    assert ImageParameters(prompt="a fox", ultra=True, model_id=PHOENIX).alchemy is False


def test_a_model_without_alchemy_settles_it_as_false():
    assert ImageParameters(prompt="a fox", model_id=LUCID).alchemy is False


def test_defaults_are_ours():
    params = ImageParameters(prompt="a fox")
    assert (params.model_id, params.width, params.height, params.num_images) == (
        DEFAULT_MODEL_ID,
        1024,
        1024,
        1,
    )


def test_ids_are_lower_cased():
    params = ImageParameters(
        prompt="a fox", model_id=PHOENIX.upper(), controlnets=[net(166) | {"upload_id": UPLOAD.upper()}]
    )
    assert (params.model_id, params.controlnets[0].upload_id) == (PHOENIX, UPLOAD)


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": ""}, {"prompt": " \x1e "}, {"prompt": "x" * 1501}, {"negative_prompt": "x" * 1501},
        {"model_id": "not-a-uuid"}, {"width": 31}, {"width": 1544}, {"height": 1001},
        {"num_images": 0}, {"num_images": 9}, {"num_images": 5, "width": 776},
        {"seed": -1}, {"seed": SEED_CAP + 1}, {"preset_style": "WATERCOLOR"},
        {"guidance_scale": 0.5}, {"guidance_scale": 21}, {"num_inference_steps": 9},
        {"num_inference_steps": 61}, {"photo_real_version": "v3"}, {"photo_real_strength": 0.6},
        {"contrast": 5}, {"contrast_ratio": 1.1}, {"scheduler": "EULER"}, {"sd_version": "SD3"},
        {"transparency": "full"}, {"prompt_magic_strength": 0.05}, {"prompt_magic_version": "v4"},
        {"elements": [{"id": UNKNOWN, "weight": "0.5"}]}, {"elements": [{"id": UNKNOWN, "weight": 3}]},
        {"elements": [{"id": UNKNOWN}] * 5}, {"user_elements": [{"id": "12"}]},
        {"controlnets": [net(67, strength_type="Extreme")]}, {"controlnets": [net(67, weight="1")]},
        {"controlnets": [{"upload_id": "nope", "preprocessor_id": 67}]}, {"unknown_field": 1},
    ],
)  # fmt: skip
def test_each_field_limit_is_a_validation_error(fields):
    with pytest.raises(ValidationError):
        ImageParameters(**({"prompt": "a fox"} | fields))


def test_parameters_are_frozen():
    with pytest.raises(ValidationError):
        ImageParameters(prompt="a fox").prompt = "a wolf"  # type: ignore[misc]
