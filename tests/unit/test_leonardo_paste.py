"""Leonardo's own request JSON under `"leonardo"`, read as a specification (domain/recipes.py): a
body copied from Leonardo's web app is mapped field by field onto ours, validated by the same
rules, stored in our names and sent back in Leonardo's; ids of someone's Leonardo account are
refused (`foreign_leonardo_id`), and `public` is always false."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gencore.domain.kinds import Refs, kind_of
from gencore.domain.requests import ImageGenerationRequest

pytestmark = pytest.mark.unit
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
# What the web app's "Get API Code" shows for a Phoenix recipe (nulls and all).
PASTED = {
    "alchemy": True, "contrast": 3.5, "height": 768, "modelId": PHOENIX, "num_images": 4,
    "presetStyle": "DYNAMIC", "prompt": "A lighthouse on a basalt cliff at dawn", "width": 1024,
    "negative_prompt": "blurry", "enhancePrompt": False, "public": True, "seed": None, "ultra": False,
    "elements": [{"akUUID": "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11", "weight": 0.6}], "userElements": [],
    "init_image_id": None, "controlnets": None,
}  # fmt: skip


def refusal(body: dict) -> dict:
    with pytest.raises(ValidationError) as refused:
        ImageGenerationRequest.model_validate({"leonardo": body})
    [problem] = refused.value.errors()
    return problem


def test_a_pasted_recipe_is_stored_in_our_names_and_sent_in_leonardos():
    request = ImageGenerationRequest.model_validate({"leonardo": PASTED})
    stored = request.normalized()
    assert (stored["model_id"], stored["contrast"], stored["preset_style"], stored["num_images"]) == (
        PHOENIX, 3.5, "DYNAMIC", 4,
    )  # fmt: skip
    assert stored["elements"] == [{"id": "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11", "weight": 0.6}]
    assert "leonardo" not in stored and request.kind == "text_to_image"
    body = kind_of(request.kind).build(stored, Refs(), 42).body
    expected = {k: v for k, v in PASTED.items() if v not in (None, [])} | {"public": False, "seed": 42}
    assert body == expected  # round trip: what was pasted is what Leonardo receives, made private


@pytest.mark.parametrize(
    "field", ["init_image_id", "init_generation_image_id", "canvasInitId", "canvasMaskId", "imagePrompts"]
)
def test_ids_of_someones_leonardo_account_are_refused(field):
    problem = refusal(PASTED | {field: "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"})
    assert problem["type"] == "foreign_leonardo_id" and problem["ctx"]["field"] == field


def test_user_elements_and_controlnets_of_another_account_are_refused():
    assert (
        refusal(PASTED | {"userElements": [{"userLoraId": 12, "weight": 1}]})["type"] == "foreign_leonardo_id"
    )
    controlnet = {"initImageId": "x", "initImageType": "UPLOADED", "preprocessorId": 67, "weight": 1}
    assert refusal(PASTED | {"controlnets": [controlnet]})["type"] == "foreign_leonardo_id"


def test_the_same_rules_apply_to_a_paste():
    problem = refusal(PASTED | {"contrast": 1.8})  # Phoenix with alchemy: contrast at least 2.5
    assert problem["type"] == "invalid_combination" and problem["ctx"]["rule"] == "contrast_with_alchemy"


def test_a_paste_is_exclusive_with_our_own_fields():
    with pytest.raises(ValidationError) as refused:
        ImageGenerationRequest.model_validate({"leonardo": PASTED, "prompt": "mine"})
    assert refused.value.errors()[0]["ctx"]["rule"] == "leonardo_alone"


def test_an_unknown_leonardo_field_is_refused_by_name():
    problem = refusal(PASTED | {"upscaleRatio": 2})
    assert problem["type"] == "leonardo_field_unsupported" and problem["ctx"]["field"] == "upscaleRatio"
