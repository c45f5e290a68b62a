"""The client against Leonardo's published documents in ../shared/leonardo.

* What we SEND: serialized GenerationRequests validate against the request
  body schema of POST /generations (OpenAPI 3.0 rules, $refs resolved), and
  use only property names that schema declares.
* What we READ: every wire name our response models rely on is declared in
  the matching response schema, and the published examples parse.
"""

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import get_args

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from gencore.leonardo import LeonardoClient
from gencore.leonardo.callbacks import parse_callback
from gencore.leonardo.models import (
    ControlnetInput,
    Cost,
    CostUnit,
    CreateGenerationEnvelope,
    DeletedInitImage,
    ElementInput,
    Generation,
    GenerationRequest,
    GetGenerationEnvelope,
    InitImage,
    InitImageUpload,
    InitImageUploadRequest,
    MeEnvelope,
    PlatformModel,
    PreviewImage,
    UserDetails,
    UserElementInput,
    WireCost,
)
from gencore.leonardo.tools import (
    CanvasUpload,
    CanvasUploadRequest,
    NobgEnvelope,
    PromptEnvelope,
    PromptGeneration,
    PromptImproveRequest,
    UniversalUpscaleEnvelope,
    UniversalUpscaleRequest,
    UnzoomEnvelope,
    UpscaleEnvelope,
    Variation,
    VariationEnvelope,
    VariationJob,
    VariationRequest,
)

pytestmark = pytest.mark.contract

MODEL_ID = "b24e16ff-06e3-43eb-8d33-4416c2d75876"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "leonardo"
OPENAPI = SHARED / "openapi"


def _load(name: str) -> dict:
    return yaml.safe_load((OPENAPI / name).read_text())


IMAGE_API = _load("leonardo-ai-image-api-openapi.yml")
USER_API = _load("leonardo-ai-user-api-openapi.yml")
MODELS_API = _load("leonardo-ai-models-api-openapi.yml")
INIT_IMAGES_API = _load("leonardo-ai-init-images-api-openapi.yml")


def _with_components(schema: dict, document: dict) -> dict:
    """The schema as a root document, so its '#/components/...' $refs resolve."""
    return {**schema, "components": document["components"]}


def _request_schema(*, closed: bool = False) -> dict:
    schema = copy.deepcopy(
        IMAGE_API["paths"]["/generations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    if closed:  # Leonardo's schema is open; closing it catches names it does not declare.
        schema["additionalProperties"] = False
    return _with_components(schema, IMAGE_API)


def _response_schema(document: dict, path: str, method: str = "get") -> dict:
    return document["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]


def _wire_names(model) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


REPRESENTATIVE_REQUESTS = {
    "minimal": GenerationRequest(prompt="a cat"),
    "text_to_image": GenerationRequest(
        prompt="a lake",
        model_id=MODEL_ID,
        width=512,
        height=512,
        num_images=1,
        seed=42,
    ),
    "alchemy_style": GenerationRequest(
        prompt="a lake at dusk",
        negative_prompt="blurry",
        model_id=MODEL_ID,
        width=1024,
        height=1024,
        num_images=4,
        alchemy=True,
        preset_style="CINEMATIC",
        guidance_scale=7,
        num_inference_steps=30,
        public=False,
    ),
    "photoreal": GenerationRequest(
        prompt="portrait", photo_real=True, photo_real_version="v2", photo_real_strength=0.5, alchemy=True
    ),
    "image_to_image": GenerationRequest(
        prompt="repaint", init_image_id="img-1", init_strength=0.4, width=768, height=512, seed=9_999_999_998
    ),
    "from_generated_image": GenerationRequest(
        prompt="variation",
        init_generation_image_id="gen-img-1",
        init_strength=0.6,
        scheduler="EULER_DISCRETE",
        sd_version="SDXL_1_0",
        tiling=False,
        contrast=3.5,
        enhance_prompt=True,
        enhance_prompt_instruction="more detail",
    ),
    # Every field the document declares (but the deprecated ones), set at once: the wire shape only.
    "full": GenerationRequest.model_validate({
        "prompt": "a lake", "negative_prompt": "fog", "modelId": MODEL_ID, "width": 1024, "height": 768,
        "num_images": 2, "seed": 42, "guidance_scale": 7, "num_inference_steps": 30, "public": False,
        "alchemy": True, "contrast": 3.5, "contrastRatio": 0.5, "ultra": False, "transparency": "disabled",
        "controlnets": [{"initImageId": "img-1", "initImageType": "UPLOADED", "preprocessorId": 67,
                         "weight": 0.8, "strengthType": "Mid"}],
        "elements": [{"akUUID": "ak-1", "weight": 0.5}], "userElements": [{"userLoraId": 12, "weight": 1}],
        "expandedDomain": True, "fantasyAvatar": False, "highContrast": True, "highResolution": False,
        "init_generation_image_id": "gen-img-1", "init_image_id": "img-1", "init_strength": 0.4,
        "imagePrompts": ["img-2"], "imagePromptWeight": 0.3,
        "photoReal": True, "photoRealVersion": "v2", "photoRealStrength": 0.5, "presetStyle": "CINEMATIC",
        "promptMagic": True, "promptMagicStrength": 0.5, "promptMagicVersion": "v3",
        "scheduler": "LEONARDO", "sd_version": "SDXL_1_0", "tiling": False,
        "unzoom": True, "unzoomAmount": 0.2, "upscaleRatio": 1.5,
        "canvasRequest": True, "canvasRequestType": "INPAINT", "canvasInitId": "ci-1", "canvasMaskId": "cm-1",
        "enhancePrompt": True, "enhancePromptInstruction": "more light",
    }),
}  # fmt: skip
DEPRECATED_REQUEST_FIELDS = {"controlNet", "controlNetType", "weighting"}


@pytest.mark.parametrize("name", sorted(REPRESENTATIVE_REQUESTS))
def test_serialized_requests_validate_against_post_generations(name):
    payload = json.loads(
        json.dumps(REPRESENTATIVE_REQUESTS[name].to_payload())
    )  # exactly what goes on the wire
    for schema in (_request_schema(), _request_schema(closed=True)):
        OAS30Validator(schema, format_checker=oas30_format_checker).validate(payload)


def test_every_request_field_is_declared_by_leonardo():
    declared = set(_request_schema()["properties"])
    assert _wire_names(GenerationRequest) <= declared


def test_every_documented_request_field_can_be_sent():
    declared = set(_request_schema()["properties"]) - DEPRECATED_REQUEST_FIELDS
    assert _wire_names(GenerationRequest) == declared
    assert set(REPRESENTATIVE_REQUESTS["full"].to_payload()) == declared  # the full body sets them all


def test_nested_request_items_use_the_documented_names():
    components = IMAGE_API["components"]["schemas"]
    assert _wire_names(ControlnetInput) == set(components["controlnet_input"]["properties"])
    assert _wire_names(ElementInput) == set(components["element_input"]["properties"])
    assert _wire_names(UserElementInput) == set(components["user_elements_input"]["properties"])


def test_the_validator_is_not_vacuous():
    validator = OAS30Validator(_request_schema(closed=True), format_checker=oas30_format_checker)
    assert not validator.is_valid({"modelId": "m"})  # prompt is required
    assert not validator.is_valid({"prompt": "p", "modelID": "typo"})
    assert not validator.is_valid({"prompt": "p", "presetStyle": "NOT_A_STYLE"})


def test_example_request_body_round_trips_through_the_request_model():
    example = json.loads((SHARED / "examples" / "leonardo-ai-create-generation-example.json").read_text())
    body = example["request"]["body"]
    assert GenerationRequest.model_validate(body).to_payload() == body


def test_create_generation_example_and_openapi_example_parse():
    example = json.loads((SHARED / "examples" / "leonardo-ai-create-generation-example.json").read_text())
    job = CreateGenerationEnvelope.model_validate(example["response"]["body"]).sd_generation_job
    assert job.generation_id == "f3e95b9a-37a4-4f3a-9c40-2c1a3c0a2dd1"
    assert job.api_credit_cost == pytest.approx(0.024)  # fractional in the example, integer in the schema

    ok = IMAGE_API["paths"]["/generations"]["post"]["responses"]["200"]
    documented = ok["content"]["application/json"]["example"]
    job = CreateGenerationEnvelope.model_validate(documented).sd_generation_job
    assert job.api_credit_cost is None and job.cost is not None and job.cost.unit == "DOLLARS"


def test_get_generation_example_parses():
    example = json.loads((SHARED / "examples" / "leonardo-ai-get-generation-example.json").read_text())
    gen = GetGenerationEnvelope.model_validate(example["response"]["body"]).generations_by_pk
    assert gen is not None
    assert (gen.status, gen.image_width, gen.image_height) == ("COMPLETE", 1024, 1024)
    assert [i.id for i in gen.generated_images] == ["img-abc123", "img-abc124"]
    assert all(i.url.startswith("https://cdn.leonardo.ai/") for i in gen.generated_images)


def test_me_example_parses():
    example = json.loads((SHARED / "examples" / "leonardo-ai-me-example.json").read_text())
    [me] = MeEnvelope.model_validate(example["response"]["body"]).user_details
    assert (me.user_id, me.username, me.api_concurrency_slots) == (
        "11111111-2222-3333-4444-555555555555",
        "example-user",
        5,
    )
    assert me.api_paid_tokens == pytest.approx(12.4567)


def test_generation_fields_we_read_are_documented():
    schema = _response_schema(IMAGE_API, "/generations/{id}")["properties"]["generations_by_pk"]
    assert _wire_names(Generation) <= set(schema["properties"])
    image_props = set(schema["properties"]["generated_images"]["items"]["properties"])
    assert {"id", "url", "nsfw"} <= image_props
    listed = _response_schema(IMAGE_API, "/generations/user/{userId}")["properties"]["generations"]["items"]
    assert _wire_names(Generation) <= set(listed["properties"])
    deleted = _response_schema(IMAGE_API, "/generations/{id}", "delete")["properties"]
    assert set(deleted["delete_generations_by_pk"]["properties"]) == {"id"}


def test_user_and_model_fields_we_read_are_documented():
    item = _response_schema(USER_API, "/me")["properties"]["user_details"]["items"]["properties"]
    flattened = {"user_id", "username"}  # lifted from the nested "user" object
    assert _wire_names(UserDetails) - flattened <= set(item)
    assert {"id", "username"} <= set(item["user"]["properties"])
    models = _response_schema(MODELS_API, "/platformModels")["properties"]["custom_models"]["items"]
    assert _wire_names(PlatformModel) <= set(models["properties"])


def test_published_webhook_sample_parses():
    spec = yaml.safe_load((SHARED / "webhooks-asyncapi.yml").read_text())
    payload = spec["components"]["messages"]["ImageGenerationComplete"]["examples"][0]["payload"]
    event = parse_callback(json.dumps(payload).encode())
    assert (event.event_type, event.status, len(event.images)) == ("image_generation.complete", "COMPLETE", 1)
    assert "webhookCallbackApiKey" not in json.dumps(event.to_message())


def _init_image_request_schema(*, closed: bool) -> dict:
    schema = copy.deepcopy(
        INIT_IMAGES_API["paths"]["/init-image"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]
    )
    if closed:
        schema["additionalProperties"] = False
    return _with_components(schema, INIT_IMAGES_API)


@pytest.mark.parametrize("extension", ["png", "jpg", "jpeg", "webp"])
def test_init_image_upload_requests_validate_against_post_init_image(extension):
    payload = json.loads(json.dumps(InitImageUploadRequest(extension=extension).to_payload()))
    assert payload == {"extension": extension}
    for schema in (_init_image_request_schema(closed=False), _init_image_request_schema(closed=True)):
        OAS30Validator(schema, format_checker=oas30_format_checker).validate(payload)


def test_init_image_request_validator_is_not_vacuous():
    validator = OAS30Validator(_init_image_request_schema(closed=True), format_checker=oas30_format_checker)
    assert not validator.is_valid({})
    assert not validator.is_valid({"extension": 1})
    assert not validator.is_valid({"extension": "png", "ext": "png"})


def test_image_to_image_request_uses_the_documented_wire_names():
    payload = REPRESENTATIVE_REQUESTS["image_to_image"].to_payload()
    declared = _request_schema()["properties"]
    assert {"init_image_id", "init_strength"} <= set(payload) <= set(declared)


def test_init_image_fields_we_read_are_documented():
    upload = _response_schema(INIT_IMAGES_API, "/init-image", "post")["properties"]["uploadInitImage"]
    assert _wire_names(InitImageUpload) == set(upload["properties"]) == {"id", "url", "key", "fields"}
    assert upload["properties"]["fields"]["type"] == "string"  # a JSON string, parsed by the model
    got = _response_schema(INIT_IMAGES_API, "/init-image/{id}")["properties"]["init_images_by_pk"]
    assert _wire_names(InitImage) <= set(got["properties"])
    deleted = _response_schema(INIT_IMAGES_API, "/init-image/{id}", "delete")["properties"]
    assert _wire_names(DeletedInitImage) <= set(deleted["delete_init_images_by_pk"]["properties"])


# --- the image tools: variations, canvas pairs, prompt tools ------------------------------------

VARIATION_API = _load("leonardo-ai-variation-api-openapi.yml")
PROMPT_API = _load("leonardo-ai-prompt-api-openapi.yml")


def _body_schema(document: dict, path: str, *, closed: bool = True) -> dict:
    schema = copy.deepcopy(
        document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    if closed:
        schema["additionalProperties"] = False  # a name the document does not declare fails here
    return _with_components(schema, document)


UNIVERSAL = UniversalUpscaleRequest(
    generated_image_id="img-1",
    ultra_upscale_style="REALISTIC",
    creativity_strength=3,
    detail_contrast=7,
    similarity=5,
    upscale_multiplier=1.5,
    prompt="crisp",
)
TOOL_REQUESTS = {
    "upscale": (VARIATION_API, "/variations/upscale", VariationRequest(id="img-1")),
    "unzoom of a variation": (
        VARIATION_API, "/variations/unzoom", VariationRequest(id="v", is_variation=True)
    ),
    "nobg": (VARIATION_API, "/variations/nobg", VariationRequest(id="img-1", is_variation=False)),
    "universal upscaler": (VARIATION_API, "/variations/universal-upscaler", UNIVERSAL),
    "canvas pair": (INIT_IMAGES_API, "/canvas-init-image", CanvasUploadRequest(init_extension="png",
                                                                              mask_extension="jpg")),
    "improve prompt": (
        PROMPT_API, "/prompt/improve", PromptImproveRequest(prompt="fox", prompt_instructions="x")
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TOOL_REQUESTS))
def test_tool_requests_validate_against_their_documents(name):
    document, path, request = TOOL_REQUESTS[name]
    payload = json.loads(json.dumps(request.to_payload()))
    OAS30Validator(_body_schema(document, path), format_checker=oas30_format_checker).validate(payload)


@pytest.mark.parametrize(
    ("path", "envelope"),
    [("/variations/upscale", UpscaleEnvelope), ("/variations/unzoom", UnzoomEnvelope),
     ("/variations/nobg", NobgEnvelope), ("/variations/universal-upscaler", UniversalUpscaleEnvelope)],
)  # fmt: skip
def test_documented_variation_examples_parse_with_their_cost(path, envelope):
    answer = VARIATION_API["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
    example = answer["example"]
    if "sdUpscalerjob" in example:  # the upscale example misspells the schema's key: the schema wins
        assert "sdUpscaleJob" in answer["schema"]["properties"]
        example = {"sdUpscaleJob": example["sdUpscalerjob"]}
    job = envelope.model_validate(example).job
    assert job.id and (job.cost is not None or job.api_credit_cost is not None)


@pytest.mark.parametrize("path", ["/prompt/improve", "/prompt/random"])
def test_documented_prompt_examples_parse(path):
    example = PROMPT_API["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
    example = example["example"]
    generation = PromptEnvelope.model_validate(example).prompt_generation
    assert generation.prompt and generation.cost is not None and generation.cost.unit == "DOLLARS"


# -- the same calls through the client ------------------------------------------------
# What the client actually sends (captured at the transport) validates against each route's request
# schema, closed to undeclared names; each documented answer, or an answer built to the response
# schema where the document gives no example, parses into the typed answer.

IMAGE_ID = "d3e4f5a6-b7c8-4d9e-8f01-234567890abc"
VARIATION_ID = "c2d3e4f5-a6b7-4c89-9012-3456789abcde"
SIGNED_FIELDS = json.dumps({"key": "u/1/x.png", "policy": "cG9saWN5", "x-amz-signature": "s"})


def _post(document: dict, path: str) -> dict:
    return document["paths"][path]["post"]


def _example(document: dict, path: str) -> dict:
    return _post(document, path)["responses"]["200"]["content"]["application/json"]["example"]


def _sent(call, answer: dict) -> tuple[object, dict | None]:
    """Run one client call against a transport that answers `answer`; (its result, the JSON sent)."""
    sent: list[httpx.Request] = []

    def leonardo(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=answer)

    transport = httpx.MockTransport(leonardo)
    with LeonardoClient(base_url="https://leonardo.test/v1", api_key="k", transport=transport) as client:
        result = call(client)
    [request] = sent
    return result, (json.loads(request.content) if request.content else None)


# name -> (document, route, the call)
TOOL_CALLS = {
    "upscale": (VARIATION_API, "/variations/upscale", lambda c: c.create_upscale(IMAGE_ID)),
    "unzoom": (VARIATION_API, "/variations/unzoom", lambda c: c.create_unzoom(IMAGE_ID)),
    "unzoom of a variation": (
        VARIATION_API, "/variations/unzoom", lambda c: c.create_unzoom(VARIATION_ID, is_variation=True),
    ),
    "nobg": (VARIATION_API, "/variations/nobg", lambda c: c.create_no_background(IMAGE_ID)),
    "nobg of a variation": (
        VARIATION_API, "/variations/nobg", lambda c: c.create_no_background(VARIATION_ID, is_variation=True),
    ),
    "universal upscaler, styled": (
        VARIATION_API, "/variations/universal-upscaler",
        lambda c: c.create_universal_upscale(
            generated_image_id=IMAGE_ID, upscaler_style="2D ART & ILLUSTRATION", creativity_strength=5,
            upscale_multiplier=1.5, prompt="crisper lines",
        ),
    ),
    "universal upscaler, ultra": (
        VARIATION_API, "/variations/universal-upscaler",
        lambda c: c.create_universal_upscale(
            variation_id=VARIATION_ID, ultra_upscale_style="ARTISTIC", detail_contrast=6, similarity=4,
            creativity_strength=3, upscale_multiplier=2.0,
        ),
    ),
    "universal upscaler, init image": (
        VARIATION_API, "/variations/universal-upscaler",
        lambda c: c.create_universal_upscale(init_image_id=IMAGE_ID),
    ),
    "improve prompt": (
        PROMPT_API, "/prompt/improve", lambda c: c.improve_prompt("a fox", "in snow", is_video=False),
    ),
    "improve prompt, bare": (PROMPT_API, "/prompt/improve", lambda c: c.improve_prompt("a fox")),
    "random prompt": (PROMPT_API, "/prompt/random", lambda c: c.random_prompt()),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TOOL_CALLS))
def test_each_tool_sends_a_documented_body_and_reads_the_documented_answer(name):
    document, path, call = TOOL_CALLS[name]
    answer, body = _sent(call, _example(document, path))
    if "requestBody" in _post(document, path):
        for closed in (False, True):
            schema = _body_schema(document, path, closed=closed)
            OAS30Validator(schema, format_checker=oas30_format_checker).validate(body)
    else:
        assert body is None  # /prompt/random takes no body
    # Every documented example is an account billed in dollars.
    assert answer.cost == Cost(amount=Decimal("0.0147"), unit="DOLLARS") and answer.api_credit_cost is None


@pytest.mark.parametrize(
    ("path", "envelope", "key"),
    [
        ("/variations/upscale", UpscaleEnvelope, "sdUpscaleJob"),
        ("/variations/unzoom", UnzoomEnvelope, "sdUnzoomJob"),
        ("/variations/nobg", NobgEnvelope, "sdNobgJob"),
        ("/variations/universal-upscaler", UniversalUpscaleEnvelope, "universalUpscaler"),
    ],
)
def test_variation_answers_read_only_documented_names(path, envelope, key):
    schema = _response_schema(VARIATION_API, path, "post")["properties"]
    assert _wire_names(envelope) == {key} and key in schema
    assert _wire_names(VariationJob) <= set(schema[key]["properties"])
    assert set(schema[key]["properties"]["cost"]["$ref"].split("/")[-1:]) == {"cost"}


def test_prompt_answers_read_only_documented_names():
    for path in ("/prompt/improve", "/prompt/random"):
        schema = _response_schema(PROMPT_API, path, "post")["properties"]["promptGeneration"]
        assert _wire_names(PromptGeneration) <= set(schema["properties"])
    declared = _body_schema(PROMPT_API, "/prompt/improve", closed=False)["properties"]
    assert _wire_names(PromptImproveRequest) == set(declared)


def test_the_documented_cost_object_is_what_the_answers_read():
    cost = VARIATION_API["components"]["schemas"]["cost"]
    assert set(cost["properties"]) == _wire_names(WireCost) == {"amount", "unit"}
    assert set(cost["properties"]["unit"]["enum"]) == set(get_args(CostUnit))
    assert PROMPT_API["components"]["schemas"]["cost"] == cost == IMAGE_API["components"]["schemas"]["cost"]


def test_variation_request_models_name_only_documented_fields():
    for path, model in [("/variations/unzoom", VariationRequest), ("/variations/nobg", VariationRequest),
                        ("/variations/universal-upscaler", UniversalUpscaleRequest)]:  # fmt: skip
        assert _wire_names(model) == set(_body_schema(VARIATION_API, path, closed=False)["properties"])
    upscale = _body_schema(VARIATION_API, "/variations/upscale", closed=False)["properties"]
    assert set(VariationRequest(id=IMAGE_ID).to_payload()) == set(upscale) == {"id"}


def test_a_variation_built_to_the_get_schema_parses():
    schema = _response_schema(VARIATION_API, "/variations/{id}")
    answer = {
        "generated_image_variation_generic": [
            {
                "id": VARIATION_ID,
                "status": "COMPLETE",
                "url": "https://cdn.leonardo.ai/users/u/variations/v.png",
                "transformType": "UPSCALE",
                "createdAt": "2026-05-25T14:22:01.000",
            }
        ]
    }
    OAS30Validator(_with_components(schema, VARIATION_API), format_checker=oas30_format_checker).validate(
        answer
    )
    [variation] = VariationEnvelope.model_validate(answer).generated_image_variation_generic
    assert (variation.id, variation.status, variation.transform_type) == (VARIATION_ID, "COMPLETE", "UPSCALE")
    item = schema["properties"]["generated_image_variation_generic"]["items"]["properties"]
    assert _wire_names(Variation) == set(item)


@pytest.mark.parametrize(("init", "mask"), [("png", "png"), ("jpg", "webp"), ("jpeg", "png")])
def test_the_canvas_pair_request_and_its_answer_follow_the_init_images_document(init, mask):
    schema = _response_schema(INIT_IMAGES_API, "/canvas-init-image", "post")
    answer = {
        "uploadCanvasInitImage": {
            "initImageId": IMAGE_ID, "initFields": SIGNED_FIELDS, "initKey": "u/1/init.png",
            "initUrl": "https://bucket.s3-accelerate.amazonaws.com",
            "maskImageId": VARIATION_ID, "maskFields": SIGNED_FIELDS, "maskKey": "u/1/mask.png",
            "maskUrl": "https://bucket.s3-accelerate.amazonaws.com",
        }
    }  # fmt: skip
    OAS30Validator(_with_components(schema, INIT_IMAGES_API)).validate(answer)
    slots, body = _sent(lambda c: c.upload_canvas_init_image(init, mask), answer)
    for closed in (False, True):
        validator = OAS30Validator(_body_schema(INIT_IMAGES_API, "/canvas-init-image", closed=closed))
        validator.validate(body)
    assert body == {"initExtension": init, "maskExtension": mask}
    assert (slots.init.id, slots.mask.id) == (IMAGE_ID, VARIATION_ID)
    assert _wire_names(CanvasUpload) == set(schema["properties"]["uploadCanvasInitImage"]["properties"])


def test_platform_models_read_every_documented_field():
    item = _response_schema(MODELS_API, "/platformModels")["properties"]["custom_models"]["items"]
    assert _wire_names(PlatformModel) == set(item["properties"])
    preview = item["properties"]["generated_image"]["properties"]
    assert _wire_names(PreviewImage) == set(preview)


# -- the pricing calculator -------------------------------------------------------------------
# The schema names the parameters after the service and types `cost` as an integer; the example
# (examples/leonardo-ai-pricing-calculator-example.json) sends `imageGenerationParams` with a
# `modelId` and answers 0.048. We send the schema's shape and read either answer.

PRICING_API = _load("leonardo-ai-pricing-calculator-api-openapi.yml")
PRICING_EXAMPLE = json.loads(
    (SHARED / "examples" / "leonardo-ai-pricing-calculator-example.json").read_text()
)


def _pricing_params_schema(service: str) -> dict:
    body = _body_schema(PRICING_API, "/pricing-calculator")
    return body["properties"]["serviceParams"]["properties"][service]


PRICING_CALLS = {
    "image generation, Lightning XL": ("IMAGE_GENERATION", {
        "imageWidth": 512, "imageHeight": 512, "numImages": 1, "alchemyMode": True, "isSDXLLightning": True,
    }),
    "image generation, every option": ("IMAGE_GENERATION", {
        "imageWidth": 1024, "imageHeight": 768, "numImages": 4, "inferenceSteps": 30, "promptMagic": True,
        "promptMagicStrength": 0.5, "promptMagicVersion": "v3", "alchemyMode": True, "photoRealMode": True,
        "photoRealStrength": 0.45, "photoRealVersion": "v2", "highResolution": False, "loraCount": 2,
        "isModelCustom": False, "controlnetsCost": 0, "isSDXL": True, "isUltra": False,
    }),
    "universal upscaler": ("UNIVERSAL_UPSCALER", {"megapixel": 4}),
    "universal upscaler ultra": (
        "UNIVERSAL_UPSCALER_ULTRA", {"inputWidth": 1024, "inputHeight": 1024, "upscaleMultiplier": 1.5}
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PRICING_CALLS))
def test_the_pricing_calculator_sends_the_schemas_shape_and_reads_the_documented_answer(name):
    service, params = PRICING_CALLS[name]
    cost, body = _sent(lambda c: c.pricing_calculator(service, params), PRICING_EXAMPLE["response"]["body"])
    for closed in (False, True):
        schema = _body_schema(PRICING_API, "/pricing-calculator", closed=closed)
        schema["properties"]["serviceParams"]["additionalProperties"] = not closed
        schema["properties"]["serviceParams"]["properties"][service]["additionalProperties"] = not closed
        OAS30Validator(schema, format_checker=oas30_format_checker).validate(body)
    assert body == {"service": service, "serviceParams": {service: params}}
    assert cost == Decimal("0.048")  # the example's account is billed in dollars


def test_every_image_generation_pricing_field_is_the_documents():
    from gencore.leonardo.pricing import ImageGenerationPricing

    assert _wire_names(ImageGenerationPricing) == set(
        _pricing_params_schema("IMAGE_GENERATION")["properties"]
    )


def test_the_documented_example_request_is_not_the_schemas_shape():
    """Why we do not send what the example sends: its parameters' key is not declared."""
    schema = _body_schema(PRICING_API, "/pricing-calculator")
    schema["properties"]["serviceParams"]["additionalProperties"] = False
    errors = list(OAS30Validator(schema).iter_errors(PRICING_EXAMPLE["request"]["body"]))
    assert [list(e.absolute_path) for e in errors] == [["serviceParams"]]
    assert "imageGenerationParams" in errors[0].message
