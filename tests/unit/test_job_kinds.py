"""Job kinds, read as a specification: each kind declares its paid Leonardo call, how its work is
followed, and whether an unanswered POST can be adopted (domain/kinds/)."""

from __future__ import annotations

import typing

import pytest

from gencore.domain.kinds import KINDS, Refs, kind_of
from gencore.domain.models import JobKind, VariationType

pytestmark = pytest.mark.unit

REQUEST = {"prompt": "a fox", "negative_prompt": None, "model_id": "m-1", "width": 512, "height": 768,
           "num_images": 2, "seed": None, "preset_style": "CINEMATIC", "alchemy": True, "photo_real": None,
           "guidance_scale": 7.0, "num_inference_steps": None, "init_strength": 0.4}  # fmt: skip


def test_every_public_kind_is_declared_once():
    assert set(typing.get_args(JobKind)) == set(KINDS)
    assert set(typing.get_args(VariationType)) <= set(KINDS)


def test_a_text_to_image_job_becomes_a_generations_post_in_leonardos_names_with_its_own_seed():
    call = kind_of("text_to_image").build(REQUEST, Refs(), 1234)
    assert call.route == "/generations"
    assert call.body == {"prompt": "a fox", "modelId": "m-1", "width": 512, "height": 768, "num_images": 2,
                         "presetStyle": "CINEMATIC", "alchemy": True, "guidance_scale": 7.0, "seed": 1234,
                         "public": False}  # fmt: skip
    # init_strength means nothing without an image to guide: never sent alone.


def test_an_upload_guides_with_init_image_id_and_an_edit_with_init_generation_image_id():
    from_upload = kind_of("image_to_image").build(REQUEST, Refs(init_image_id="init-1"), 1)
    edit = kind_of("edit").build(REQUEST, Refs(generated_image_id="img-9"), 1)
    assert from_upload.body["init_image_id"] == "init-1" and from_upload.body["init_strength"] == 0.4
    assert edit.body["init_generation_image_id"] == "img-9" and edit.body["init_strength"] == 0.4
    assert "init_generation_image_id" not in from_upload.body and "init_image_id" not in edit.body


@pytest.mark.parametrize(
    ("kind", "route", "body"),
    [
        ("upscale", "/variations/upscale", {"id": "img-9"}),
        ("unzoom", "/variations/unzoom", {"id": "img-9", "isVariation": False}),
        ("no_background", "/variations/nobg", {"id": "img-9", "isVariation": False}),
        ("universal_upscale", "/variations/universal-upscaler", {"generatedImageId": "img-9"}),
    ],
)
def test_each_variation_type_has_its_own_route_and_names_our_image_by_leonardos_id(kind, route, body):
    call = kind_of(kind).build({"type": kind}, Refs(generated_image_id="img-9"), None)
    assert (call.route, call.body) == (route, body)


def test_a_variation_of_a_variation_is_named_as_one():
    refs = Refs(generated_image_id="var-3", from_variation=True)
    assert kind_of("no_background").build({}, refs, None).body == {"id": "var-3", "isVariation": True}
    assert kind_of("universal_upscale").build({}, refs, None).body == {"variationId": "var-3"}


def test_universal_upscaler_options_are_sent_in_leonardos_names():
    request = {"type": "universal_upscale", "ultra_style": "REALISTIC", "creativity_strength": 3,
               "detail_contrast": 7, "similarity": 5, "multiplier": 1.5, "prompt": "crisp"}  # fmt: skip
    body = kind_of("universal_upscale").build(request, Refs(generated_image_id="img-9"), None).body
    assert body == {
        "generatedImageId": "img-9", "ultraUpscaleStyle": "REALISTIC", "creativityStrength": 3,
        "detailContrast": 7, "similarity": 5, "upscaleMultiplier": 1.5, "prompt": "crisp",
    }  # fmt: skip


def test_generations_are_adopted_after_an_unanswered_post_and_variations_are_not():
    # Leonardo's list echoes a generation's request; nothing lists variations by what was asked.
    assert all(kind_of(k).adopts and kind_of(k).webhook for k in ("text_to_image", "image_to_image", "edit"))
    assert not any(kind_of(k).adopts or kind_of(k).webhook for k in typing.get_args(VariationType))


def test_video_kinds_count_against_the_video_pool_and_every_other_kind_against_the_image_pool():
    video = {"text_to_video", "image_to_video", "motion"}
    assert {name for name, kind in KINDS.items() if kind.pool == "video"} == video
    assert {kind.pool for name, kind in KINDS.items() if name not in video} == {"image"}
