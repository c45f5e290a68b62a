"""Leonardo's own request JSON, read as a specification (domain/recipes.py): one table maps it onto our
parameters and back; ids of someone's Leonardo account are refused (`foreign_leonardo_id`), fields
we do not offer are refused by name, `public` is always false, and the same rules apply."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gencore.domain.parameters import ImageParameters, InvalidCombination
from gencore.domain.recipes import (
    FIELDS,
    LeonardoPasteRefused,
    from_leonardo,
    parameters_from_leonardo,
    to_leonardo,
)

pytestmark = pytest.mark.unit
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
ELEMENT = "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"
UPLOAD = "3f1c2b9e-8d7a-4e6f-9a0b-1c2d3e4f5a6b"
# A Phoenix recipe as the web app's "Get API Code" shows it (nulls and all).
PASTED = {
    "alchemy": True, "contrast": 3.5, "height": 768, "modelId": PHOENIX, "num_images": 4,
    "presetStyle": "DYNAMIC", "prompt": "A lighthouse on a basalt cliff at dawn", "width": 1024,
    "negative_prompt": "blurry", "enhancePrompt": False, "public": False, "seed": None, "ultra": False,
    "elements": [{"akUUID": ELEMENT, "weight": 0.6}], "userElements": [], "init_image_id": None,
    "controlnets": None, "guidance_scale": 7,
}  # fmt: skip


def refused(body: dict) -> LeonardoPasteRefused:
    with pytest.raises(LeonardoPasteRefused) as refusal:
        parameters_from_leonardo(body)
    return refusal.value


def test_a_pasted_recipe_becomes_our_parameters():
    params = parameters_from_leonardo(PASTED)
    assert (params.model_id, params.contrast, params.preset_style, params.num_images) == (
        PHOENIX, 3.5, "DYNAMIC", 4,
    )  # fmt: skip
    assert params.elements[0].model_dump() == {"id": ELEMENT, "weight": 0.6}


def test_a_pasted_recipe_round_trips_to_what_was_pasted():
    # Given a pasted body without its unused (null, empty) fields, When it is mapped onto ours and
    # back, Then Leonardo receives exactly what was pasted.
    pasted = {k: v for k, v in PASTED.items() if v not in (None, [])}
    assert to_leonardo(parameters_from_leonardo(pasted)) == pasted


def test_a_public_recipe_is_made_private():
    assert to_leonardo(parameters_from_leonardo(PASTED | {"public": True}))["public"] is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("init_image_id", ELEMENT), ("init_generation_image_id", ELEMENT), ("canvasInitId", ELEMENT),
        ("canvasMaskId", ELEMENT), ("imagePrompts", [ELEMENT]),
        ("userElements", [{"userLoraId": 12, "weight": 1}]),
        ("controlnets", [{"initImageId": ELEMENT, "initImageType": "UPLOADED", "preprocessorId": 67}]),
    ],
)  # fmt: skip
def test_each_id_of_someones_leonardo_account_is_refused(field, value):
    refusal = refused(PASTED | {field: value})
    assert (refusal.code, refusal.field, refusal.details) == ("foreign_leonardo_id", field, {"field": field})


def test_an_unknown_field_is_refused_by_name_even_when_null():
    refusal = refused(PASTED | {"modelID": None})
    assert (refusal.code, refusal.field) == ("leonardo_field_unsupported", "modelID")


@pytest.mark.parametrize("field", ["upscaleRatio", "unzoom", "styleUUID", "controlNet", "canvasRequest"])
def test_a_leonardo_field_we_do_not_offer_is_refused_saying_why(field):
    refusal = refused(PASTED | {field: 2 if field == "upscaleRatio" else True})
    assert refusal.code == "leonardo_field_unsupported" and field in refusal.message


def test_a_body_that_is_not_an_object_is_refused():
    assert refused(["prompt"]).code == "leonardo_not_an_object"  # type: ignore[arg-type]


def test_the_same_rules_apply_to_a_paste():
    with pytest.raises(InvalidCombination) as refusal:
        parameters_from_leonardo(PASTED | {"contrast": 1.8})  # Phoenix with alchemy: at least 2.5
    assert refusal.value.rule == "contrast_with_alchemy"


def test_the_same_field_limits_apply_to_a_paste():
    with pytest.raises(ValidationError):
        parameters_from_leonardo(PASTED | {"num_images": 9})


def test_from_leonardo_gives_our_field_names_and_raises_pydantic_errors_for_validators():
    assert from_leonardo({"prompt": "p", "presetStyle": "NONE", "public": True}) == {
        "prompt": "p", "preset_style": "NONE",
    }  # fmt: skip


def test_every_field_of_ours_has_one_wire_name():
    ours = {f.ours for f in FIELDS}
    assert ours == set(ImageParameters.model_fields) and len({f.wire for f in FIELDS}) == len(FIELDS)


def test_our_own_user_elements_and_controlnets_reach_leonardo_in_its_names():
    params = ImageParameters(
        prompt="a fox", user_elements=[{"id": 7, "weight": 0.5}],
        controlnets=[{"upload_id": UPLOAD, "preprocessor_id": 67, "strength_type": "High"}],
    )  # fmt: skip
    body = to_leonardo(params, init_image_ids={UPLOAD: "leonardo-init-1"})
    assert body["userElements"] == [{"userLoraId": 7, "weight": 0.5}]
    assert body["controlnets"] == [
        {
            "initImageId": "leonardo-init-1",
            "initImageType": "UPLOADED",
            "preprocessorId": 67,
            "strengthType": "High",
        }
    ]


def test_a_controlnet_upload_not_yet_handed_to_leonardo_is_a_programming_error():
    params = ImageParameters(prompt="a fox", controlnets=[{"upload_id": UPLOAD, "preprocessor_id": 67}])
    with pytest.raises(ValueError, match="hand it over first"):
        to_leonardo(params)


def test_a_stored_request_in_our_names_maps_like_the_parameters():
    params = ImageParameters(prompt="a fox", alchemy=True, preset_style="DYNAMIC")
    assert to_leonardo(params.model_dump(mode="json")) == to_leonardo(params)
