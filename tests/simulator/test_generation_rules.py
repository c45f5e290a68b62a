"""The simulator refuses, with Leonardo's 400, the combinations real Leonardo documents as
invalid, and accepts every documented field: the suite is only as good as its Leonardo.

Each case: given a request breaking one documented rule, when it is posted, then the answer is a
400 `validation-failed` naming the field, and nothing is created or charged."""

from __future__ import annotations

import pytest

from .helpers import client, create, request_slot, tiny_png, upload, wait_done

pytestmark = pytest.mark.integration
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
FLUX_DEV = "b2614463-296c-462a-9586-aafdb8f00e36"
KINO_XL = "aa77f04e-3eec-4034-9c07-d0f619684628"
LIGHTNING_XL = "b24e16ff-06e3-43eb-8d33-4416c2d75876"
CREATIVE = "6bef9f1b-29cb-40c7-b9df-32b51c1f67d3"  # SD 2.1
UNKNOWN = "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"
BASE = {"prompt": "a fox", "width": 64, "height": 64, "num_images": 1}


def refused(sim, body: dict, path: str) -> None:
    with client(sim) as c:
        answer = c.post("/generations", json=BASE | body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "validation-failed" and answer.json()["path"] == path
    stats = sim.stats()
    assert stats["generations_created"] == 0 and stats["credits_spent"] == 0


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"ultra": True, "alchemy": True}, "$.ultra"),
        ({"photoReal": True, "alchemy": False}, "$.photoReal"),
        ({"photoReal": True, "alchemy": True, "modelId": PHOENIX}, "$.modelId"),
        ({"photoReal": True, "photoRealVersion": "v2", "alchemy": True}, "$.modelId"),
        ({"photoReal": True, "photoRealVersion": "v2", "alchemy": True, "modelId": PHOENIX}, "$.modelId"),
        ({"photoReal": True, "photoRealVersion": "v2", "alchemy": False, "modelId": KINO_XL}, "$.photoReal"),
        ({"contrast": 1.1, "modelId": PHOENIX}, "$.contrast"),
        ({"contrast": 1.8, "alchemy": True, "modelId": PHOENIX}, "$.contrast"),
        ({"contrast": 1.8, "modelId": PHOENIX}, "$.contrast"),  # alchemy's documented default: true
        ({"unzoom": True, "unzoomAmount": 0.2}, "$.unzoom"),
        ({"seed": 2_147_483_638, "sd_version": "FLUX"}, "$.seed"),
        ({"seed": 2_147_483_638, "modelId": FLUX_DEV}, "$.seed"),
        ({"seed": 9_999_999_999}, "$.seed"),
        ({"elements": [{"akUUID": UNKNOWN, "weight": "0.5"}]}, "$.elements[0].weight"),
        ({"userElements": [{"userLoraId": 12, "weight": "1"}]}, "$.userElements[0].weight"),
        ({"init_generation_image_id": UNKNOWN}, "$.init_generation_image_id"),
        ({"canvasRequest": True, "canvasRequestType": "ERASE"}, "$.canvasRequestType"),
        ({"canvasRequest": True, "canvasRequestType": "INPAINT", "canvasInitId": UNKNOWN,
          "canvasMaskId": UNKNOWN}, "$.canvasInitId"),
    ],
    ids=["ultra with alchemy", "photoReal without alchemy", "photoReal v1 with a model",
         "photoReal v2 without a model", "photoReal v2 on Phoenix", "photoReal v2 without alchemy",
         "contrast 1.1", "Phoenix alchemy contrast 1.8", "Phoenix default alchemy contrast 1.8",
         "unzoom without an init image",
         "Flux version seed over its cap", "Flux model seed over its cap", "seed over the general cap",
         "string element weight", "string user element weight", "unknown generated image",
         "unknown canvas request type", "unknown canvas images"],
)  # fmt: skip
def test_combinations_leonardo_refuses_are_refused_and_cost_nothing(sim, body, path):
    refused(sim, body, path)


@pytest.mark.parametrize(
    ("controlnet", "model", "path"),
    [
        ({"preprocessorId": 999}, LIGHTNING_XL, "$.controlnets[0].preprocessorId"),
        ({"preprocessorId": 1}, LIGHTNING_XL, "$.controlnets[0].preprocessorId"),  # an SD1.5 one on XL
        ({"preprocessorId": 67}, PHOENIX, "$.controlnets[0].preprocessorId"),  # XL style ref on Phoenix
        ({"preprocessorId": 12.5}, CREATIVE, "$.controlnets[0].preprocessorId"),
        ({"preprocessorId": 19, "weight": 2.5}, LIGHTNING_XL, "$.controlnets[0].weight"),
        ({"preprocessorId": 19, "weight": -0.1}, LIGHTNING_XL, "$.controlnets[0].weight"),
        ({"preprocessorId": 19, "weight": "1"}, LIGHTNING_XL, "$.controlnets[0].weight"),
        ({"preprocessorId": 19, "strengthType": "High"}, LIGHTNING_XL, "$.controlnets[0].strengthType"),
        ({"preprocessorId": 67, "strengthType": "Huge"}, LIGHTNING_XL, "$.controlnets[0].strengthType"),
        ({"preprocessorId": 166, "initImageType": "REMOTE"}, PHOENIX, "$.controlnets[0].initImageType"),
    ],
    ids=["unknown id", "another family's id", "XL id on Phoenix", "fractional id", "weight over 2",
         "negative weight", "string weight", "strength on an edge guide", "unknown strength",
         "unknown image type"],
)  # fmt: skip
def test_controlnets_outside_the_image_guidance_tables_are_refused(sim, controlnet, model, path):
    refused(sim, {"modelId": model, "controlnets": [{"initImageId": UNKNOWN} | controlnet]}, path)


def test_a_controlnet_image_must_exist_and_be_uploaded(sim):
    with client(sim) as c:
        slot = request_slot(c)  # handed out, never uploaded
        for image_id, kind in ((UNKNOWN, "UPLOADED"), (slot["id"], "UPLOADED"), (UNKNOWN, "GENERATED")):
            net = {"initImageId": image_id, "initImageType": kind, "preprocessorId": 67, "weight": 1}
            answer = c.post("/generations", json=BASE | {"controlnets": [net]})
            assert answer.status_code == 400 and answer.json()["path"] == "$.controlnets[0].initImageId"
    assert sim.stats()["generations_created"] == 0


def test_with_an_init_image_an_sdxl_model_takes_only_style_and_character_reference(sim):
    with client(sim) as c:
        slot = request_slot(c)
        assert upload(slot, tiny_png()).status_code == 204
        guide = {"init_image_id": slot["id"], "init_strength": 0.4}
        for preprocessor, status in ((19, 400), (100, 400), (67, 200), (133, 200)):
            net = {"initImageId": slot["id"], "initImageType": "UPLOADED", "preprocessorId": preprocessor}
            answer = c.post(
                "/generations", json=BASE | guide | {"modelId": LIGHTNING_XL, "controlnets": [net]}
            )
            assert answer.status_code == status, (preprocessor, answer.text)
            if status == 400:
                assert answer.json()["path"] == "$.controlnets[0].preprocessorId"


def test_controlnets_from_the_tables_on_uploaded_and_generated_images_are_accepted(sim):
    with client(sim) as c:
        slot = request_slot(c)
        assert upload(slot, tiny_png()).status_code == 204
        generated = wait_done(c, create(c))["generated_images"][0]["id"]
        nets = [
            {"initImageId": slot["id"], "initImageType": "UPLOADED", "preprocessorId": 67,
             "strengthType": "Max"},
            {"initImageId": generated, "initImageType": "GENERATED", "preprocessorId": 19, "weight": 0.75},
        ]  # fmt: skip
        assert c.post("/generations", json=BASE | {"controlnets": nets}).status_code == 200
        phoenix = [{"initImageId": slot["id"], "preprocessorId": 166, "strengthType": "Low"}]
        assert (
            c.post("/generations", json=BASE | {"modelId": PHOENIX, "controlnets": phoenix}).status_code
            == 200
        )


@pytest.mark.parametrize(
    "body",
    [
        {"ultra": True, "alchemy": False, "modelId": PHOENIX},
        {"photoReal": True, "alchemy": True},
        {"photoReal": True, "photoRealVersion": "v2", "alchemy": True, "modelId": KINO_XL,
         "photoRealStrength": 0.45},
        {"contrast": 3.5, "alchemy": True, "modelId": PHOENIX},
        {"contrast": 1.3, "alchemy": False, "modelId": PHOENIX},
        {"seed": 9_999_999_998},
        {"seed": 2_147_483_637, "modelId": FLUX_DEV},
        {"seed": 9_999_999_998, "modelId": PHOENIX},
    ],
    ids=["ultra without alchemy", "photoReal v1", "photoReal v2 on Kino XL", "Phoenix contrast 3.5",
         "Phoenix low contrast without alchemy", "general seed cap", "Flux seed cap", "Phoenix seed cap"],
)  # fmt: skip
def test_documented_combinations_are_accepted(sim, body):
    with client(sim) as c:
        assert c.post("/generations", json=BASE | body).status_code == 200


def test_every_documented_request_field_is_accepted(sim):
    """Given a body setting the documented fields that need no other object, the create succeeds."""
    body = BASE | {
        "negative_prompt": "blur", "modelId": KINO_XL, "seed": 7, "alchemy": True, "contrastRatio": 0.5,
        "elements": [{"akUUID": UNKNOWN, "weight": 0.8}], "userElements": [{"userLoraId": 3, "weight": 1}],
        "expandedDomain": True, "fantasyAvatar": False, "guidance_scale": 7, "highContrast": True,
        "highResolution": False, "imagePrompts": [], "imagePromptWeight": 0.5, "num_inference_steps": 30,
        "presetStyle": "CINEMATIC", "promptMagic": True, "promptMagicStrength": 0.5,
        "promptMagicVersion": "v3", "public": False, "scheduler": "LEONARDO", "sd_version": "SDXL_1_0",
        "tiling": False, "transparency": "disabled", "upscaleRatio": 1.0, "controlNet": False,
        "controlNetType": "POSE", "weighting": 0.5, "enhancePrompt": True,
        "enhancePromptInstruction": "more light", "controlnets": [],
    }  # fmt: skip
    with client(sim) as c:
        answer = c.post("/generations", json=body)
    assert answer.status_code == 200, answer.text
