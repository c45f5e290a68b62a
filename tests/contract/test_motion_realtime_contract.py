"""The simulator's video and realtime canvas routes against the shared motion and realtime-canvas
documents: requests we send fit the request schemas, the simulator's field lists and enums are the
documents', every answer fits its response schema (with no key the schema does not list), a video's
`GET /generations/{id}` and callback fit the image and webhook documents, and the places where the
shared material disagrees with itself are pinned, so a change there shows up here."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30Validator
from PIL import Image

from leonardo_simulator import SimulatorConfig, realtime, serve_in_thread, video
from tests.contract.test_simulator_contract import (
    IMAGE_DOC,
    PRICING_DOC,
    SHARED,
    WEBHOOK_DOC,
    load,
    pointer,
    resolve,
    response_ref,
    undocumented,
    validate,
)
from tests.simulator.helpers import (
    AUTH,
    WEBHOOK_KEY,
    WebhookReceiver,
    create,
    request_slot,
    tiny_png,
    upload,
    wait_done,
    wait_for,
)

pytestmark = pytest.mark.contract

MOTION_DOC = "openapi/leonardo-ai-motion-api-openapi.yml"
REALTIME_DOC = "openapi/leonardo-ai-realtime-canvas-api-openapi.yml"
T2V, I2V, SVD = video.TEXT_TO_VIDEO, video.IMAGE_TO_VIDEO, video.MOTION_SVD


def request_ref(path: str) -> str:
    return pointer("paths", path, "post", "requestBody", "content", "application/json", "schema")


def request_schema(doc_name: str, path: str) -> dict[str, Any]:
    return resolve(load(doc_name), request_ref(path))


def schema_errors(doc_name: str, ref: str, instance: Any) -> set[str]:
    doc = load(doc_name)
    invalid = {
        "/".join(map(str, e.absolute_path))
        for e in OAS30Validator({**doc, "$ref": ref}).iter_errors(instance)
    }
    return invalid | {f"undocumented {key}" for key in undocumented(doc, resolve(doc, ref), instance)}


class Run:
    def __init__(self, sim, receiver: WebhookReceiver) -> None:
        self.sim = sim
        self.receiver = receiver
        self.client = httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10)

    def post(self, doc_name: str, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST `body` after checking it fits the document's request schema."""
        assert schema_errors(doc_name, request_ref(path), body) == set(), body
        return self.client.post(path, json=body)

    def generated_image(self) -> str:
        return wait_done(self.client, create(self.client))["generated_images"][0]["id"]

    def uploaded_image(self) -> str:
        slot = request_slot(self.client)
        assert upload(slot, tiny_png()).status_code == 204
        return slot["id"]


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    with WebhookReceiver() as receiver:
        cfg = SimulatorConfig(
            webhook_url=receiver.url, webhook_key=WEBHOOK_KEY, pending_seconds=0.05, lcm_answer_seconds=0
        )
        with serve_in_thread(cfg) as sim:
            r = Run(sim, receiver)
            with r.client:
                yield r


# -- the motion document ----------------------------------------------------------


@pytest.mark.parametrize("route", [T2V, I2V, SVD])
def test_the_simulators_fields_are_the_documents(route):
    schema = request_schema(MOTION_DOC, route)
    assert set(video.FIELDS[route]) == set(schema["properties"])
    assert set(video.REQUIRED[route]) == set(schema["required"])


def test_the_simulators_enums_are_the_documents():
    properties = request_schema(MOTION_DOC, I2V)["properties"]
    assert tuple(properties["model"]["enum"]) == video.MODELS
    assert set(properties["resolution"]["enum"]) == set(video.RESOLUTIONS)
    assert set(properties["imageType"]["enum"]) == video.IMAGE_TYPES
    assert set(properties["endFrameImage"]["properties"]["type"]["enum"]) == video.IMAGE_TYPES
    assert properties["model"]["default"] == video.DEFAULT_MODEL


def test_the_duration_rules_are_the_descriptions():
    """`duration` is documented per route for some models only: text-to-video VEO3 and VEO3FAST
    (4, 6, 8; default 8), image-to-video those and KLING2_5 (5 or 10; default 5)."""
    text = request_schema(MOTION_DOC, T2V)["properties"]["duration"]
    image = request_schema(MOTION_DOC, I2V)["properties"]["duration"]
    assert "4, 6, or 8" in text["description"] and "VEO3 and VEO3FAST" in text["description"]
    assert text["default"] == 8 and "KLING" not in text["description"]
    assert "5 or 10 on model KLING2_5 (default: 5)" in image["description"]
    assert "default" not in image  # the default is per model, in the prose only
    assert video.DURATIONS[T2V] == {"VEO3": ((4, 6, 8), 8), "VEO3FAST": ((4, 6, 8), 8)}
    assert video.DURATIONS[I2V] == {**video.DURATIONS[T2V], "KLING2_5": ((5, 10), 5)}


def test_text_to_video_answer(run):
    response = run.post(MOTION_DOC, T2V, {"prompt": "A koala surfing", "model": "VEO3", "duration": 4})
    assert response.status_code == 200, response.text
    validate(MOTION_DOC, response_ref(T2V, "post"), response.json())


def test_image_to_video_answer_uses_the_schemas_key(run):
    body = {
        "prompt": "pan",
        "imageId": run.generated_image(),
        "imageType": "GENERATED",
        "frameInterpolation": True,
    }
    response = run.post(MOTION_DOC, I2V, body)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"motionVideoGenerationJob"}
    validate(MOTION_DOC, response_ref(I2V, "post"), response.json())


def test_image_to_video_from_an_upload_answer(run):
    body = {"prompt": "pan", "imageId": run.uploaded_image(), "imageType": "UPLOADED", "model": "KLING2_5"}
    response = run.post(MOTION_DOC, I2V, body | {"duration": 10})
    assert response.status_code == 200, response.text
    validate(MOTION_DOC, response_ref(I2V, "post"), response.json())


def test_svd_answer(run):
    response = run.post(
        MOTION_DOC, SVD, {"imageId": run.generated_image(), "motionStrength": 3, "isPublic": False}
    )
    assert response.status_code == 200, response.text
    validate(MOTION_DOC, response_ref(SVD, "post"), response.json())


@pytest.mark.parametrize("route", [T2V, SVD])
def test_answers_in_dollars_fit_the_document(route):
    with (
        serve_in_thread(SimulatorConfig(cost_unit="DOLLARS", pending_seconds=0.05)) as sim,
        httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as c,
    ):
        body = (
            {"prompt": "p"}
            if route == T2V
            else {"imageId": wait_done(c, create(c))["generated_images"][0]["id"]}
        )
        response = c.post(route, json=body)
    validate(MOTION_DOC, response_ref(route, "post"), response.json())
    [job] = response.json().values()
    assert job["apiCreditCost"] is None and job["cost"]["unit"] == "DOLLARS"


def test_a_videos_generation_fits_the_image_document_pending_and_complete(run):
    job = run.post(MOTION_DOC, T2V, {"prompt": "p"}).json()["motionVideoGenerationJob"]
    pending = run.client.get(f"/generations/{job['generationId']}").json()
    validate(IMAGE_DOC, response_ref("/generations/{id}", "get"), pending)
    wait_done(run.client, job["generationId"])
    done = run.client.get(f"/generations/{job['generationId']}").json()
    validate(IMAGE_DOC, response_ref("/generations/{id}", "get"), done)
    [image] = done["generations_by_pk"]["generated_images"]
    assert image["motionMP4URL"] and image["motion"] is True
    listing = run.client.get(f"/generations/user/{run.sim.config.user_id}", params={"limit": 50}).json()
    validate(IMAGE_DOC, response_ref("/generations/user/{userId}", "get"), listing)


def test_the_motion_fields_are_where_the_image_document_puts_them():
    """The motion document has no GET: the clip is the generated image's `motionMP4URL`."""
    schema = resolve(load(IMAGE_DOC), response_ref("/generations/{id}", "get"))
    image = schema["properties"]["generations_by_pk"]["properties"]["generated_images"]["items"]["properties"]
    assert {"motionMP4URL", "motion", "motionModel", "motionStrength", "imageToVideo"} <= set(image)
    assert not [path for path in load(MOTION_DOC)["paths"] if "get" in load(MOTION_DOC)["paths"][path]]


def test_a_videos_callback_fits_the_webhook_document(run):
    job = run.post(MOTION_DOC, T2V, {"prompt": "a callback"}).json()["motionVideoGenerationJob"]

    def find() -> dict[str, Any] | None:
        for delivery in run.receiver.successful():
            if delivery.body["data"]["object"]["id"] == job["generationId"]:
                return delivery.body
        return None

    envelope = wait_for(find)
    validate(WEBHOOK_DOC, "#/components/schemas/ImageGenerationCompleteEnvelope", envelope)


def test_the_example_disagrees_with_the_schemas_and_the_simulator_follows_the_schemas(run):
    """The image-to-video example sends `"model": "VEO_3"` (the enum spells it VEO3) and answers under
    `motionSvdGenerationJob` (the schema: `motionVideoGenerationJob`) with a fractional `apiCreditCost`
    and ids that are not UUIDs. The simulator refuses VEO_3 as Leonardo's enum would, takes VEO3, and
    answers under the schema's key."""
    example = json.loads((SHARED / "examples/leonardo-ai-image-to-video-example.json").read_text())
    request, answer = example["request"]["body"], example["response"]["body"]
    assert schema_errors(MOTION_DOC, request_ref(I2V), request) == {"model"}
    assert schema_errors(MOTION_DOC, response_ref(I2V, "post"), answer) == {
        "undocumented $.motionSvdGenerationJob"
    }
    ours = request | {"imageId": run.generated_image()}
    refused = run.client.post(I2V, json=ours)
    assert (refused.status_code, refused.json()["path"]) == (400, "$.model")
    taken = run.post(MOTION_DOC, I2V, ours | {"model": "VEO3"})
    assert taken.status_code == 200, taken.text
    assert set(taken.json()) == {"motionVideoGenerationJob"}


@pytest.mark.parametrize(
    ("service", "params"),
    [
        ("MOTION_VIDEO_GENERATION", {"resolution": "RESOLUTION_720"}),
        ("VEO3_MOTION_VIDEO_GENERATION", {"resolution": "RESOLUTION_720"}),
        ("LCM_GENERATION", {"width": 1024, "height": 512, "instantRefine": True, "refine": False}),
    ],
)
def test_pricing_requests_for_video_and_lcm_follow_the_pricing_document(run, service, params):
    body = {"service": service, "serviceParams": {service: params}}
    assert schema_errors(PRICING_DOC, request_ref("/pricing-calculator"), body) == set()
    response = run.client.post("/pricing-calculator", json=body)
    assert response.status_code == 200, response.text
    validate(PRICING_DOC, response_ref("/pricing-calculator", "post"), response.json())


# -- the realtime canvas document ------------------------------------------------------


def jpeg_data_url(colour: tuple[int, int, int] = (40, 90, 160)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, format="JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def lcm_body(route: str) -> dict[str, Any]:
    body = {
        "imageDataUrl": jpeg_data_url(),
        "prompt": "a castle",
        "guidance": 7,
        "strength": 0.5,
        "requestTimestamp": "1234567890",
        "style": "CINEMATIC",
        "steps": 8,
        "width": 640,
        "height": 512,
        "seed": 3,
    }
    if route == realtime.INPAINTING:
        body["maskDataUrl"] = jpeg_data_url((255, 255, 255))
    if route == realtime.UPSCALE:
        body |= {"refineCreative": True, "refineStrength": 0.6}
    return body


@pytest.mark.parametrize("route", realtime.LCM_ROUTES)
def test_the_simulators_lcm_fields_are_the_documents(route):
    schema = request_schema(REALTIME_DOC, route)
    assert set(realtime.FIELDS[route]) == set(schema["properties"])
    assert set(realtime.REQUIRED[route]) == set(schema["required"])


def test_the_lcm_styles_are_the_documents():
    assert set(load(REALTIME_DOC)["components"]["schemas"]["lcm_generation_style"]["enum"]) == realtime.STYLES


@pytest.mark.parametrize("route", realtime.LCM_ROUTES)
def test_lcm_answers(run, route):
    response = run.post(REALTIME_DOC, route, lcm_body(route))
    assert response.status_code == 200, response.text
    validate(REALTIME_DOC, response_ref(route, "post"), response.json())
    [url] = response.json()["lcmGenerationJob"]["imageDataUrl"]
    assert url.startswith("data:image/jpeg;base64,")  # the document's prefix


def test_lcm_answers_in_dollars_fit_the_document():
    with (
        serve_in_thread(SimulatorConfig(cost_unit="DOLLARS", lcm_answer_seconds=0)) as sim,
        httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as c,
    ):
        response = c.post(realtime.GENERATE, json=lcm_body(realtime.GENERATE))
    validate(REALTIME_DOC, response_ref(realtime.GENERATE, "post"), response.json())


def test_the_upscale_schema_lists_ids_the_simulator_does_not_send(run):
    """`generationId`, `variationId`, `generatedImageId` are listed (not required) for `/lcm-upscale`; the
    example sends two of them. The simulator keeps no record they could name and sends none."""
    properties = resolve(load(REALTIME_DOC), response_ref(realtime.UPSCALE, "post"))["properties"]
    listed = properties["lcmGenerationJob"]["properties"]
    assert {"generationId", "variationId", "generatedImageId"} <= set(listed)
    assert "required" not in properties["lcmGenerationJob"]
    answer = run.client.post(realtime.UPSCALE, json=lcm_body(realtime.UPSCALE)).json()["lcmGenerationJob"]
    assert not {"generationId", "variationId", "generatedImageId"} & set(answer)
