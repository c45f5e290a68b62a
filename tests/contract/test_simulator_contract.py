"""The simulator's real responses and callbacks against the shared Leonardo documents.

Schemas are OpenAPI 3.0 (`nullable`), so validation uses openapi-schema-validator's
OAS30Validator. Each validator's root is the whole document plus a `$ref` to the
schema under test, so the document's internal `#/components/...` refs resolve.
The documents never forbid extra properties, so a separate check reports any
key the simulator emits that the schema does not list (typos would otherwise pass).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from leonardo_simulator import FaultConfig, SimulatorConfig, SimulatorHandle, serve_in_thread
from leonardo_simulator.initimages import CONTENT_TYPES
from leonardo_simulator.validation import FIELDS
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

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "leonardo"
IMAGE_DOC = "openapi/leonardo-ai-image-api-openapi.yml"
USER_DOC = "openapi/leonardo-ai-user-api-openapi.yml"
MODELS_DOC = "openapi/leonardo-ai-models-api-openapi.yml"
BLUEPRINTS_DOC = "openapi/leonardo-ai-blueprints-api-openapi.yml"
INIT_IMAGES_DOC = "openapi/leonardo-ai-init-images-api-openapi.yml"
WEBHOOK_DOC = "webhooks-asyncapi.yml"

if not SHARED.is_dir():
    pytest.skip(f"shared Leonardo documents not found at {SHARED}", allow_module_level=True)


@cache
def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((SHARED / name).read_text())


def pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def response_ref(path: str, method: str, status: str = "200") -> str:
    return pointer("paths", path, method, "responses", status, "content", "application/json", "schema")


def resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def validate(doc_name: str, ref: str, instance: Any) -> None:
    doc = load(doc_name)
    validator = OAS30Validator({**doc, "$ref": ref}, format_checker=OAS30Validator.FORMAT_CHECKER)
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)
    ]
    assert not problems, "\n".join(problems)
    extra = undocumented(doc, resolve(doc, ref), instance)
    assert not extra, f"keys not in the schema: {extra}"


def undocumented(doc: dict[str, Any], schema: dict[str, Any], instance: Any, at: str = "$") -> list[str]:
    while "$ref" in schema:
        schema = resolve(doc, schema["$ref"])
    found: list[str] = []
    if isinstance(instance, dict) and "properties" in schema:
        for key, value in instance.items():
            if key not in schema["properties"]:
                found.append(f"{at}.{key}")
            else:
                found += undocumented(doc, schema["properties"][key], value, f"{at}.{key}")
    elif isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            found += undocumented(doc, schema["items"], item, f"{at}[{i}]")
    return found


class Scenario:
    """One simulator run that produced everything the tests below inspect."""

    def __init__(self, sim: SimulatorHandle, receiver: WebhookReceiver) -> None:
        self.sim = sim
        self.receiver = receiver
        self.client = httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10)

    def uploaded_init_image(self) -> str:
        slot = request_slot(self.client)
        assert upload(slot, tiny_png()).status_code == 204
        return slot["id"]

    def rich_request(self) -> dict[str, Any]:
        """RICH_REQUEST, image-to-image from a freshly uploaded init image."""
        return {**RICH_REQUEST, "init_image_id": self.uploaded_init_image(), "init_strength": 0.5}


RICH_REQUEST = {
    "prompt": "A serene mountain lake at golden hour",
    "negative_prompt": "low quality",
    "modelId": "6bef9f1b-29cb-40c7-b9df-32b51c1f67d3",
    "width": 512,
    "height": 384,
    "num_images": 2,
    "seed": 905778432,
    "alchemy": False,
    "presetStyle": "CINEMATIC",
    "guidance_scale": 7,
    "num_inference_steps": 30,
    "public": False,
    "scheduler": "DPM_SOLVER",
}


@pytest.fixture(scope="module")
def scenario() -> Iterator[Scenario]:
    with WebhookReceiver() as receiver:
        cfg = SimulatorConfig(
            api_key="sim-key", webhook_url=receiver.url, webhook_key=WEBHOOK_KEY, pending_seconds=0.05
        )
        with serve_in_thread(cfg) as sim:
            s = Scenario(sim, receiver)
            with s.client:
                yield s


def test_create_generation_response(scenario):
    response = scenario.client.post("/generations", json=scenario.rich_request())
    assert response.status_code == 200
    validate(IMAGE_DOC, response_ref("/generations", "post"), response.json())


def test_get_generation_response_pending():
    with (
        serve_in_thread(SimulatorConfig(pending_seconds=5)) as sim,
        httpx.Client(base_url=sim.base_url, headers=AUTH) as c,
    ):
        pending = c.get(f"/generations/{create(c)}").json()
    assert pending["generations_by_pk"]["status"] == "PENDING"
    validate(IMAGE_DOC, response_ref("/generations/{id}", "get"), pending)


def test_get_generation_response_complete(scenario):
    generation_id = create(scenario.client, **scenario.rich_request())
    done = wait_done(scenario.client, generation_id)
    assert done["status"] == "COMPLETE"
    body = scenario.client.get(f"/generations/{generation_id}").json()
    validate(IMAGE_DOC, response_ref("/generations/{id}", "get"), body)


def test_failed_generation_response(scenario):
    scenario.sim.set_faults(FaultConfig(failed_generation_rate=1.0))
    try:
        generation_id = create(scenario.client)
        assert wait_done(scenario.client, generation_id)["status"] == "FAILED"
    finally:
        scenario.sim.set_faults(FaultConfig())
    body = scenario.client.get(f"/generations/{generation_id}").json()
    validate(IMAGE_DOC, response_ref("/generations/{id}", "get"), body)


def test_list_generations_response(scenario):
    wait_done(scenario.client, create(scenario.client, **scenario.rich_request()))
    body = scenario.client.get(
        f"/generations/user/{scenario.sim.config.user_id}", params={"limit": 50}
    ).json()
    assert body["generations"]
    validate(IMAGE_DOC, response_ref("/generations/user/{userId}", "get"), body)


def test_user_generations_are_listed_newest_first_in_disjoint_contiguous_pages():
    """The rule: a user's generations are listed newest first by createdAt, and offset
    pages are disjoint and contiguous. Our backend pages back in time on this order to
    find the generation of an unanswered POST, so it must hold even for generations
    created in the same instant, and a page must not change between two reads.
    createdAt is ISO-8601 with sub-second precision and a zone."""
    count, limit = 25, 10
    with (
        serve_in_thread(SimulatorConfig(pending_seconds=0.05)) as sim,
        httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as c,
    ):
        # Created as fast as the simulator takes them, from several connections at once.
        with ThreadPoolExecutor(max_workers=5) as pool:
            created = set(pool.map(lambda _: create(c, prompt="the same prompt"), range(count)))
        path = f"/generations/user/{sim.config.user_id}"

        def pages() -> list[list[dict[str, Any]]]:
            out = []
            for offset in range(0, count + limit, limit):
                body = c.get(path, params={"offset": offset, "limit": limit}).json()
                validate(IMAGE_DOC, response_ref("/generations/user/{userId}", "get"), body)
                out.append(body["generations"])
            return out

        first, again = pages(), pages()
        everything = c.get(path, params={"limit": 100}).json()["generations"]
    assert [len(page) for page in first] == [10, 10, 5, 0]
    ids = [[g["id"] for g in page] for page in first]
    assert ids == [[g["id"] for g in page] for page in again]  # the same pages on a second read
    flat = [i for page in ids for i in page]
    assert len(set(flat)) == len(flat) == count and set(flat) == created  # disjoint, nothing missing
    assert flat == [g["id"] for g in everything]  # contiguous: the pages are the whole list, cut
    for generation in everything:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d)", generation["createdAt"])
    stamps = [datetime.fromisoformat(g["createdAt"]) for g in everything]
    assert all(newer > older for newer, older in pairwise(stamps)), "newest first, no ties"


def test_delete_generation_response(scenario):
    generation_id = create(scenario.client)
    body = scenario.client.delete(f"/generations/{generation_id}").json()
    validate(IMAGE_DOC, response_ref("/generations/{id}", "delete"), body)


def test_me_response(scenario):
    validate(USER_DOC, response_ref("/me", "get"), scenario.client.get("/me").json())


def test_platform_models_response(scenario):
    validate(
        MODELS_DOC, response_ref("/platformModels", "get"), scenario.client.get("/platformModels").json()
    )


def test_upload_init_image_response(scenario):
    response = scenario.client.post("/init-image", json={"extension": "png"})
    assert response.status_code == 200
    validate(INIT_IMAGES_DOC, response_ref("/init-image", "post"), response.json())


def test_get_init_image_response(scenario):
    body = scenario.client.get(f"/init-image/{scenario.uploaded_init_image()}").json()
    validate(INIT_IMAGES_DOC, response_ref("/init-image/{id}", "get"), body)


def test_delete_init_image_response(scenario):
    body = scenario.client.delete(f"/init-image/{scenario.uploaded_init_image()}").json()
    validate(INIT_IMAGES_DOC, response_ref("/init-image/{id}", "delete"), body)


def test_upload_canvas_init_image_response(scenario):
    response = scenario.client.post(
        "/canvas-init-image", json={"initExtension": "png", "maskExtension": "jpg"}
    )
    assert response.status_code == 200
    validate(INIT_IMAGES_DOC, response_ref("/canvas-init-image", "post"), response.json())


def test_init_image_request_fields_and_extensions_match_the_document():
    paths = load(INIT_IMAGES_DOC)["paths"]
    for path, names in (
        ("/init-image", ["extension"]),
        ("/canvas-init-image", ["initExtension", "maskExtension"]),
    ):
        schema = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert sorted(schema["properties"]) == sorted(names) and sorted(schema["required"]) == sorted(names)
        for name in names:
            # "Has to be png, jpg, jpeg, or webp."
            described = re.findall(r"[a-z]+", schema["properties"][name]["description"].split("be", 1)[1])
            assert set(described) - {"or"} == set(CONTENT_TYPES)


def test_generation_schema_has_no_init_image_field():
    """Why lineage is kept in the simulator's records (and the callback), not in GET /generations:
    if the document grows such a field, the simulator should emit it."""
    props = resolve(load(IMAGE_DOC), response_ref("/generations/{id}", "get"))["properties"]
    assert not [name for name in props["generations_by_pk"]["properties"] if "initimage" in name.lower()]


def test_error_bodies_fit_the_documented_error_shape(scenario):
    """The only REST error body in the documents: blueprints' 400 `{"error": string}`."""
    ref = response_ref("/blueprint-executions", "post", "400")
    bad = scenario.client.post("/generations", json={"prompt": 1})
    missing = scenario.client.get("/generations/0b8e4f57-2c1d-4e8a-9b6f-3a2d1c0e9f87")
    unauthorized = httpx.get(scenario.sim.base_url + "/me")
    bad_extension = scenario.client.post("/init-image", json={"extension": "gif"})
    missing_init_image = scenario.client.get("/init-image/0b8e4f57-2c1d-4e8a-9b6f-3a2d1c0e9f87")
    for response, status in (
        (bad, 400),
        (missing, 404),
        (unauthorized, 401),
        (bad_extension, 400),
        (missing_init_image, 404),
    ):
        assert response.status_code == status
        body = response.json()
        OAS30Validator({**load(BLUEPRINTS_DOC), "$ref": ref}).validate(body)
        assert set(body) == {"error", "path", "code"}


def test_request_fields_match_the_documented_request_schema():
    schema = load(IMAGE_DOC)["paths"]["/generations"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert set(FIELDS) == set(schema["properties"])
    assert schema["required"] == ["prompt"]


def test_documented_example_request_is_accepted(scenario):
    example = json.loads((SHARED / "examples/leonardo-ai-create-generation-example.json").read_text())
    response = scenario.client.post("/generations", json=example["request"]["body"])
    assert response.status_code == 200, response.text


def _callbacks_for(scenario: Scenario, generation_id: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for delivery in scenario.receiver.successful():
            if delivery.body["data"]["object"]["id"] == generation_id:
                assert delivery.headers["authorization"] == f"Bearer {WEBHOOK_KEY}"
                return delivery.body
        return None

    return wait_for(find)


def test_callback_envelope_complete(scenario):
    request = scenario.rich_request()
    generation_id = create(scenario.client, **request)
    envelope = _callbacks_for(scenario, generation_id)
    lineage = envelope["data"]["object"]
    assert (lineage["initImageId"], lineage["initType"]) == (request["init_image_id"], "UPLOADED")
    validate(WEBHOOK_DOC, "#/components/schemas/ImageGenerationCompleteEnvelope", envelope)
    # Same field set as the verbatim sample from Leonardo's guide.
    sample = load(WEBHOOK_DOC)["components"]["messages"]["ImageGenerationComplete"]["examples"][0]["payload"]
    ours, theirs = envelope["data"]["object"], sample["data"]["object"]
    assert set(envelope) == set(sample)
    assert set(ours) == set(theirs)
    assert set(ours["model"]) == set(theirs["model"])
    assert set(ours["images"][0]) == set(theirs["images"][0])
    assert set(ours["apiKey"]) == set(theirs["apiKey"])


def test_callback_envelope_failed(scenario):
    scenario.sim.set_faults(FaultConfig(failed_generation_rate=1.0))
    try:
        generation_id = create(scenario.client)
        envelope = _callbacks_for(scenario, generation_id)
    finally:
        scenario.sim.set_faults(FaultConfig())
    assert envelope["data"]["object"]["status"] == "FAILED"
    validate(WEBHOOK_DOC, "#/components/schemas/ImageGenerationCompleteEnvelope", envelope)


def test_known_disagreements_between_examples_and_schemas():
    """SOURCE.md: the examples are illustrative; the schemas win. Pin what differs,
    so a change in the shared documents shows up here (and in docs/leonardo-simulator.md)."""

    def errors(doc_name: str, ref: str, instance: Any) -> set[str]:
        doc = load(doc_name)
        validator = OAS30Validator({**doc, "$ref": ref})
        invalid = {"/".join(map(str, e.absolute_path)) for e in validator.iter_errors(instance)}
        return invalid | {f"undocumented {key}" for key in undocumented(doc, resolve(doc, ref), instance)}

    def example(name: str) -> Any:
        return json.loads((SHARED / "examples" / name).read_text())["response"]["body"]

    assert errors(
        IMAGE_DOC, response_ref("/generations", "post"), example("leonardo-ai-create-generation-example.json")
    ) == {"sdGenerationJob/apiCreditCost"}
    assert errors(
        IMAGE_DOC,
        response_ref("/generations/{id}", "get"),
        example("leonardo-ai-get-generation-example.json"),
    ) == {"generations_by_pk/generated_images/0/id", "generations_by_pk/generated_images/1/id"}
    assert errors(USER_DOC, response_ref("/me", "get"), example("leonardo-ai-me-example.json")) == {
        "user_details/0/paidTokens",
        "user_details/0/apiPaidTokens",
        "user_details/0/user/id",
        "undocumented $.user_details[0].usedAPIBoosters",
    }


VARIATION_DOC = "openapi/leonardo-ai-variation-api-openapi.yml"
PROMPT_DOC = "openapi/leonardo-ai-prompt-api-openapi.yml"


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/variations/upscale", {}),
        ("/variations/unzoom", {"isVariation": False}),
        ("/variations/nobg", {"isVariation": False}),
        ("/variations/universal-upscaler", {"upscalerStyle": "CINEMATIC", "creativityStrength": 4}),
    ],
)
def test_variation_create_and_get_responses(scenario, route, body):
    image_id = wait_done(scenario.client, create(scenario.client))["generated_images"][0]["id"]
    source = {"generatedImageId": image_id} if route.endswith("universal-upscaler") else {"id": image_id}
    response = scenario.client.post(route, json=source | body)
    assert response.status_code == 200, response.text
    validate(VARIATION_DOC, response_ref(route, "post"), response.json())
    [job] = response.json().values()

    def done():
        answer = scenario.client.get(f"/variations/{job['id']}").json()
        return answer if answer["generated_image_variation_generic"][0]["status"] != "PENDING" else None

    validate(VARIATION_DOC, response_ref("/variations/{id}", "get"), wait_for(done))


@pytest.mark.parametrize(
    ("route", "body"), [("/prompt/improve", {"prompt": "a fox"}), ("/prompt/random", None)]
)
def test_prompt_tool_responses(scenario, route, body):
    response = scenario.client.post(route, json=body)
    assert response.status_code == 200
    validate(PROMPT_DOC, response_ref(route, "post"), response.json())


def request_ref(path: str) -> str:
    return pointer("paths", path, "post", "requestBody", "content", "application/json", "schema")


def test_second_delete_answers_the_documented_null(scenario):
    generation_id = create(scenario.client)
    scenario.client.delete(f"/generations/{generation_id}")
    again = scenario.client.delete(f"/generations/{generation_id}")
    assert again.status_code == 200 and again.json() == {"delete_generations_by_pk": None}
    validate(IMAGE_DOC, response_ref("/generations/{id}", "delete"), again.json())


def test_a_generation_listing_its_variations_fits_the_document(scenario):
    generation_id = create(scenario.client)
    image_id = wait_done(scenario.client, generation_id)["generated_images"][0]["id"]
    for route in ("/variations/upscale", "/variations/nobg"):
        assert scenario.client.post(route, json={"id": image_id}).status_code == 200
    body = scenario.client.get(f"/generations/{generation_id}").json()
    assert len(body["generations_by_pk"]["generated_images"][0]["generated_image_variation_generics"]) == 2
    validate(IMAGE_DOC, response_ref("/generations/{id}", "get"), body)
    listed = scenario.client.get(f"/generations/user/{scenario.sim.config.user_id}", params={"limit": 50})
    validate(IMAGE_DOC, response_ref("/generations/user/{userId}", "get"), listed.json())


def test_a_request_with_controlnets_canvas_and_elements_fits_the_request_schema_and_is_accepted(scenario):
    """What the rules tests send is what the document describes: the request validates against the
    request schema, and the simulator takes it."""
    init, mask = scenario.uploaded_init_image(), scenario.uploaded_init_image()
    body = {
        "prompt": "a red door", "width": 512, "height": 512, "num_images": 1,
        "modelId": RICH_REQUEST["modelId"], "alchemy": False, "canvasRequest": True,
        "canvasRequestType": "INPAINT", "canvasInitId": init, "canvasMaskId": mask, "init_strength": 0.4,
        "controlnets": [
            {"initImageId": init, "initImageType": "UPLOADED", "preprocessorId": 12, "weight": 0.6}
        ],
        "elements": [{"akUUID": "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11", "weight": 0.5}],
        "userElements": [{"userLoraId": 4, "weight": 1.0}],
    }  # fmt: skip
    doc = load(IMAGE_DOC)
    OAS30Validator({**doc, "$ref": request_ref("/generations")}).validate(body)
    response = scenario.client.post("/generations", json=body)
    assert response.status_code == 200, response.text
    done = wait_done(scenario.client, response.json()["sdGenerationJob"]["generationId"])
    assert done["status"] == "COMPLETE"
    validate(IMAGE_DOC, response_ref("/generations/{id}", "get"), {"generations_by_pk": done})


def test_universal_upscale_of_an_init_image_fits_the_document(scenario):
    body = {"initImageId": scenario.uploaded_init_image(), "ultraUpscaleStyle": "ARTISTIC", "similarity": 3}
    OAS30Validator({**load(VARIATION_DOC), "$ref": request_ref("/variations/universal-upscaler")}).validate(
        body
    )
    response = scenario.client.post("/variations/universal-upscaler", json=body)
    assert response.status_code == 200, response.text
    validate(VARIATION_DOC, response_ref("/variations/universal-upscaler", "post"), response.json())


@pytest.mark.parametrize(
    ("route", "body"),
    [("/variations/upscale", {}), ("/variations/unzoom", {}), ("/variations/nobg", {"isVariation": False}),
     ("/variations/universal-upscaler", {"upscalerStyle": "GENERAL"})],
)  # fmt: skip
def test_variation_answers_in_dollars_fit_the_document(route, body):
    with (
        serve_in_thread(SimulatorConfig(pending_seconds=0.05, cost_unit="DOLLARS")) as sim,
        httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as c,
    ):
        image_id = wait_done(c, create(c))["generated_images"][0]["id"]
        source = {"generatedImageId": image_id} if route.endswith("universal-upscaler") else {"id": image_id}
        answer = c.post(route, json=source | body).json()
    [job] = answer.values()
    assert job["apiCreditCost"] is None and job["cost"]["unit"] == "DOLLARS"
    validate(VARIATION_DOC, response_ref(route, "post"), answer)


def test_generation_answer_in_dollars_is_the_documented_example_shape():
    with (
        serve_in_thread(SimulatorConfig(pending_seconds=0.05, cost_unit="DOLLARS")) as sim,
        httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as c,
    ):
        answer = c.post("/generations", json={"prompt": "a fox", "width": 64, "height": 64}).json()
    validate(IMAGE_DOC, response_ref("/generations", "post"), answer)
    example = resolve(load(IMAGE_DOC), pointer("paths", "/generations", "post", "responses", "200", "content",
                                                  "application/json", "example"))  # fmt: skip
    assert set(answer["sdGenerationJob"]) == set(example["sdGenerationJob"])
    assert answer["sdGenerationJob"]["apiCreditCost"] is None
    assert re.fullmatch(r"\d+\.\d{4}", answer["sdGenerationJob"]["cost"]["amount"])


@pytest.mark.parametrize(
    ("route", "body"), [("/prompt/improve", {"prompt": "a fox"}), ("/prompt/random", None)]
)
def test_prompt_answers_in_dollars_follow_the_documents_example_not_its_schema(route, body):
    """The prompt document types `apiCreditCost` as a non-nullable integer, yet its own example for a
    dollar account sends null. The simulator sends null (as the example, and as every other paid route
    does): the one schema error is exactly the example's."""

    def errors(instance: Any) -> set[str]:
        doc = load(PROMPT_DOC)
        validator = OAS30Validator({**doc, "$ref": response_ref(route, "post")})
        return {"/".join(map(str, e.absolute_path)) for e in validator.iter_errors(instance)}

    with (
        serve_in_thread(SimulatorConfig(cost_unit="DOLLARS")) as sim,
        httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as c,
    ):
        answer = c.post(route, json=body).json()
    example = load(PROMPT_DOC)["paths"][route]["post"]["responses"]["200"]["content"]["application/json"][
        "example"
    ]
    assert errors(example) == errors(answer) == {"promptGeneration/apiCreditCost"}
    assert set(answer["promptGeneration"]) == set(example["promptGeneration"])


PRICING_DOC = "openapi/leonardo-ai-pricing-calculator-api-openapi.yml"
PRICING_BODY = {
    "service": "IMAGE_GENERATION",
    "serviceParams": {
        "IMAGE_GENERATION": {
            "imageWidth": 1024, "imageHeight": 768, "numImages": 2, "inferenceSteps": 30, "alchemyMode": True,
            "promptMagic": False, "photoRealMode": False, "highResolution": False, "loraCount": 1,
            "isSDXL": True, "isUltra": None,
        }
    },
}  # fmt: skip


def _pricing_example() -> dict[str, Any]:
    return json.loads((SHARED / "examples" / "leonardo-ai-pricing-calculator-example.json").read_text())


def _schema_errors(doc_name: str, ref: str, instance: Any) -> set[str]:
    doc = load(doc_name)
    invalid = {
        "/".join(map(str, e.absolute_path))
        for e in OAS30Validator({**doc, "$ref": ref}).iter_errors(instance)
    }
    return invalid | {f"undocumented {key}" for key in undocumented(doc, resolve(doc, ref), instance)}


def test_pricing_calculator_request_and_answer_follow_the_document(scenario):
    assert _schema_errors(PRICING_DOC, request_ref("/pricing-calculator"), PRICING_BODY) == set()
    response = scenario.client.post("/pricing-calculator", json=PRICING_BODY)
    assert response.status_code == 200, response.text
    validate(PRICING_DOC, response_ref("/pricing-calculator", "post"), response.json())
    assert isinstance(response.json()["calculateProductionApiServiceCost"]["cost"], int)


@pytest.mark.parametrize(
    "service_params",
    [
        {"UNIVERSAL_UPSCALER": {"megapixel": 8}},
        {"UNIVERSAL_UPSCALER_ULTRA": {"inputWidth": 1024, "inputHeight": 1024, "upscaleMultiplier": 1.5}},
    ],
)
def test_pricing_calculator_universal_upscaler_requests_follow_the_document(scenario, service_params):
    body = {"service": next(iter(service_params)), "serviceParams": service_params}
    assert _schema_errors(PRICING_DOC, request_ref("/pricing-calculator"), body) == set()
    response = scenario.client.post("/pricing-calculator", json=body)
    assert response.status_code == 200, response.text
    validate(PRICING_DOC, response_ref("/pricing-calculator", "post"), response.json())


def test_the_pricing_example_disagrees_with_its_schema_and_the_simulator_takes_both():
    """The schema names the parameters after the service (`serviceParams.IMAGE_GENERATION`) and types
    `cost` as an integer; the example sends `serviceParams.imageGenerationParams` with a `modelId`
    and answers 0.048 (an account billed in dollars: 40 credits at $0.0012). The simulator follows
    the schema and accepts the example's request too; in dollars it answers exactly the example."""
    example = _pricing_example()
    assert _schema_errors(PRICING_DOC, request_ref("/pricing-calculator"), example["request"]["body"]) == {
        "undocumented $.serviceParams.imageGenerationParams"
    }
    cost_error = {"calculateProductionApiServiceCost/cost"}
    assert (
        _schema_errors(PRICING_DOC, response_ref("/pricing-calculator", "post"), example["response"]["body"])
        == cost_error
    )
    for unit, errors in (("CREDITS", set()), ("DOLLARS", cost_error)):
        with (
            serve_in_thread(SimulatorConfig(cost_unit=unit)) as sim,
            httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as c,
        ):
            answer = c.post("/pricing-calculator", json=example["request"]["body"])
        assert answer.status_code == 200, answer.text
        assert (
            _schema_errors(PRICING_DOC, response_ref("/pricing-calculator", "post"), answer.json()) == errors
        )
    assert answer.json() == example["response"]["body"]
