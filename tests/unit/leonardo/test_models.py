"""Request/response models: Leonardo's exact wire names, strict requests, lenient responses."""

import pytest
from pydantic import ValidationError

from gencore.leonardo.models import (
    Generation,
    GenerationJob,
    GenerationRequest,
    PlatformModel,
    UserDetails,
)

pytestmark = pytest.mark.unit


def test_request_serializes_with_leonardo_names_and_omits_unset():
    request = GenerationRequest(
        prompt="p",
        negative_prompt="n",
        model_id="m",
        width=1024,
        height=768,
        num_images=2,
        seed=7,
        init_image_id="i",
        init_generation_image_id="g",
        init_strength=0.5,
        alchemy=True,
        photo_real=False,
        preset_style="CINEMATIC",
        guidance_scale=7,
        num_inference_steps=30,
        public=False,
    )
    assert request.to_payload() == {
        "prompt": "p",
        "negative_prompt": "n",
        "modelId": "m",
        "width": 1024,
        "height": 768,
        "num_images": 2,
        "seed": 7,
        "init_image_id": "i",
        "init_generation_image_id": "g",
        "init_strength": 0.5,
        "alchemy": True,
        "photoReal": False,
        "presetStyle": "CINEMATIC",
        "guidance_scale": 7.0,
        "num_inference_steps": 30,
        "public": False,
    }
    assert GenerationRequest(prompt="only").to_payload() == {"prompt": "only"}


def test_request_accepts_wire_names_too():
    request = GenerationRequest.model_validate({"prompt": "p", "modelId": "m", "presetStyle": "ANIME"})
    assert (request.model_id, request.preset_style) == ("m", "ANIME")


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": "p", "modelid": "typo"},  # unknown field: forbidden
        {"prompt": ""},
        {"prompt": "p", "width": 500},  # not a multiple of 8
        {"prompt": "p", "height": 2048},
        {"prompt": "p", "num_images": 9},
        {"prompt": "p", "width": 1024, "num_images": 5},  # > 768 allows at most 4
        {"prompt": "p", "init_strength": 0.95},
        {"prompt": "p", "seed": -1},
    ],
)
def test_request_rejects_impossible_input(fields):
    with pytest.raises(ValidationError):
        GenerationRequest.model_validate(fields)


def test_job_accepts_integer_or_fractional_cost():
    assert GenerationJob.model_validate({"generationId": "g", "apiCreditCost": 3}).api_credit_cost == 3
    job = GenerationJob.model_validate({"generationId": "g", "apiCreditCost": 0.024, "cost": None})
    assert job.api_credit_cost == pytest.approx(0.024)
    with pytest.raises(ValidationError):
        GenerationJob.model_validate({"apiCreditCost": 1})


def test_generation_requires_what_we_use_and_ignores_the_rest():
    body = {
        "id": "g",
        "status": "FAILED",
        "createdAt": "2026-05-25T14:22:01.000Z",
        "modelId": None,
        "prompt": "p",
        "imageWidth": 8,
        "imageHeight": 8,
        "brandNewField": 1,
    }
    gen = Generation.model_validate(body)
    assert (gen.status, gen.generated_images, gen.model_id) == ("FAILED", [], None)
    with pytest.raises(ValidationError):
        Generation.model_validate({**body, "status": "DONE"})
    with pytest.raises(ValidationError):
        Generation.model_validate({k: v for k, v in body.items() if k != "imageWidth"})


def test_user_details_can_be_built_by_name():
    me = UserDetails(user_id="u", api_concurrency_slots=3)
    assert (me.user_id, me.username, me.api_concurrency_slots) == ("u", None, 3)


def test_platform_model_minimal():
    model = PlatformModel.model_validate({"id": "m", "name": "n", "extra": True})
    assert (model.id, model.generated_image) == ("m", None)
