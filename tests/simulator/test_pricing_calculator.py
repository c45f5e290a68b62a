"""The simulator's `POST /pricing-calculator`: Leonardo's published price table, the same figures a
create charges, the schema's request shape and the documented example's, free to ask."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from .helpers import client, create, wait_done

pytestmark = pytest.mark.integration

LIGHTNING_XL = "b24e16ff-06e3-43eb-8d33-4416c2d75876"
DIFFUSION_XL = "1e60896f-3c26-4296-8ecc-53e2afecc132"
KINO_XL = "aa77f04e-3eec-4034-9c07-d0f619684628"
CREATIVE = "6bef9f1b-29cb-40c7-b9df-32b51c1f67d3"  # SD 2.1
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
FLUX_DEV = "b2614463-296c-462a-9586-aafdb8f00e36"
EXAMPLE = Path(__file__).resolve().parents[2].parent / "shared/leonardo/examples"
EXAMPLE_FILE = EXAMPLE / "leonardo-ai-pricing-calculator-example.json"


def image_generation(**params: Any) -> dict[str, Any]:
    return {"service": "IMAGE_GENERATION", "serviceParams": {"IMAGE_GENERATION": params}}


def price(c, body: Any) -> int | float:
    answer = c.post("/pricing-calculator", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["calculateProductionApiServiceCost"]["cost"]


def refusal(c, body: Any) -> tuple[int, str, str]:
    answer = c.post("/pricing-calculator", json=body)
    return answer.status_code, answer.json()["code"], answer.json()["path"]


# (the table's line, the calculator's model flags and options, 4 images at 512x512, at 1024x1024)
PUBLISHED_TABLE = [
    ("Lightning XL + Alchemy v2", {"isSDXLLightning": True, "alchemyMode": True}, 15, 40),
    ("Diffusion XL + Alchemy v2", {"isSDXL": True, "alchemyMode": True}, 24, 66),
    ("PhotoReal v1 + Alchemy v1", {"photoRealMode": True, "alchemyMode": True}, 23, 63),
    ("SD finetune + Alchemy v1", {"alchemyMode": True}, 16, 44),
    ("Stable Diffusion 1.5 / 2.1", {"alchemyMode": False}, 7, 12),
    ("SD + PM v2", {"alchemyMode": False, "promptMagic": True, "promptMagicVersion": "v2"}, 7, 12),
    ("SD + PM v3 + Alchemy", {"alchemyMode": True, "promptMagic": True, "promptMagicVersion": "v3"}, 24, 63),
]


@pytest.mark.parametrize(
    ("line", "options", "small", "large"), PUBLISHED_TABLE, ids=[r[0] for r in PUBLISHED_TABLE]
)
def test_four_images_cost_what_leonardos_estimated_pricing_table_says(sim, line, options, small, large):
    with client(sim) as c:
        at_512 = price(c, image_generation(imageWidth=512, imageHeight=512, numImages=4, **options))
        at_1024 = price(c, image_generation(imageWidth=1024, imageHeight=1024, numImages=4, **options))
    assert (at_512, at_1024) == (small, large)


def test_up_to_four_images_cost_what_four_cost_and_more_are_priced_pro_rata(sim):
    flags = {"isSDXLLightning": True, "imageWidth": 512, "imageHeight": 512}
    with client(sim) as c:
        prices = [price(c, image_generation(numImages=n, **flags)) for n in (1, 2, 4, 8)]
    assert prices == [15, 15, 15, 30]


def test_other_sizes_are_priced_linearly_in_pixels_and_rounded_up(sim):
    with client(sim) as c:
        tiny = price(c, image_generation(isSDXLLightning=True, imageWidth=64, imageHeight=64, numImages=1))
        mid = price(c, image_generation(isSDXLLightning=True, imageWidth=1024, imageHeight=768, numImages=4))
    assert (tiny, mid) == (7, 32)  # 15 - 25 * 258048/786432 = 6.8; 15 + 25 * 524288/786432 = 31.7


def test_models_the_table_does_not_list_are_priced_at_its_highest_line(sim):
    size = {"imageWidth": 1024, "imageHeight": 1024, "numImages": 4}
    with client(sim) as c:
        phoenix = price(c, image_generation(isPhoenix=True, **size))
        flux = price(c, image_generation(isFluxDev=True, **size))
        ultra = price(c, image_generation(isSDXLLightning=True, isUltra=True, **size))
        photo_real_v2 = price(
            c, image_generation(isSDXL=True, photoRealMode=True, photoRealVersion="v2", **size)
        )
    assert phoenix == flux == ultra == photo_real_v2 == 66


CREATES = {
    "the document's defaults": {"prompt": "a lake"},
    "Lightning XL, one small image": {"prompt": "a lake", "width": 64, "height": 64, "num_images": 1},
    "Diffusion XL without alchemy": {"prompt": "a", "modelId": DIFFUSION_XL, "alchemy": False,
                                     "num_images": 2},
    "Kino XL photoReal v2": {"prompt": "a", "modelId": KINO_XL, "photoReal": True, "photoRealVersion": "v2",
                             "alchemy": True, "width": 768, "height": 512, "num_images": 6},
    "photoReal v1": {"prompt": "a", "photoReal": True, "alchemy": True, "width": 512, "height": 512},
    "SD 2.1 without alchemy": {"prompt": "a", "modelId": CREATIVE, "alchemy": False, "width": 512,
                               "height": 384},
    "SD 2.1 with alchemy": {"prompt": "a", "modelId": CREATIVE, "alchemy": True, "num_images": 1},
    "SD 2.1, prompt magic v3": {"prompt": "a", "modelId": CREATIVE, "promptMagic": True,
                                "promptMagicVersion": "v3", "width": 640, "height": 640, "num_images": 8},
    "Phoenix": {"prompt": "a", "modelId": PHOENIX, "width": 1024, "height": 1024, "num_images": 3},
    "Flux Dev": {"prompt": "a", "modelId": FLUX_DEV, "width": 832, "height": 480, "num_images": 1},
}  # fmt: skip
FLAGS = {LIGHTNING_XL: "isSDXLLightning", DIFFUSION_XL: "isSDXL", KINO_XL: "isSDXL", PHOENIX: "isPhoenix",
         FLUX_DEV: "isFluxDev"}  # fmt: skip


def calculator_body(create_body: dict[str, Any]) -> dict[str, Any]:
    """The same job in the calculator's terms (the create's omitted fields at the document's defaults)."""
    params: dict[str, Any] = {
        "imageWidth": create_body.get("width", 1024),
        "imageHeight": create_body.get("height", 768),
        "numImages": create_body.get("num_images", 4),
        "alchemyMode": create_body.get("alchemy", True),
    }
    model = create_body.get("modelId", LIGHTNING_XL)
    if create_body.get("photoReal"):
        params |= {"photoRealMode": True, "photoRealVersion": create_body.get("photoRealVersion", "v1")}
    if FLAGS.get(model) and not (create_body.get("photoReal") and "photoRealVersion" not in create_body):
        params[FLAGS[model]] = True
    for name in ("promptMagic", "promptMagicVersion"):
        if name in create_body:
            params[name] = create_body[name]
    return image_generation(**params)


@pytest.mark.parametrize("name", sorted(CREATES))
def test_the_calculator_answers_what_the_create_charges(sim, name):
    with client(sim) as c:
        quoted = price(c, calculator_body(CREATES[name]))
        charged = c.post("/generations", json=CREATES[name]).json()["sdGenerationJob"]["apiCreditCost"]
    assert quoted == charged


def test_the_documented_examples_request_shape_is_accepted_and_priced_as_its_model(sim):
    example = json.loads(EXAMPLE_FILE.read_text())["request"]["body"]
    assert set(example["serviceParams"]) == {"imageGenerationParams"}  # not the schema's IMAGE_GENERATION
    with client(sim) as c:
        as_example = price(c, example)
        as_schema = price(
            c,
            image_generation(
                imageWidth=1024, imageHeight=1024, numImages=4, alchemyMode=True, promptMagic=False,
                isSDXLLightning=True,
            ),
        )  # fmt: skip
    assert as_example == as_schema == 40


def test_an_account_billed_in_dollars_is_answered_in_dollars_as_the_documented_example(start_sim):
    sim = start_sim(cost_unit="DOLLARS")
    example = json.loads(EXAMPLE_FILE.read_text())
    with client(sim) as c:
        answer = c.post("/pricing-calculator", json=example["request"]["body"]).json()
    assert answer == example["response"]["body"] == {"calculateProductionApiServiceCost": {"cost": 0.048}}


def test_asking_is_free_and_counted_as_a_request(sim):
    with client(sim) as c:
        before = c.get("/me").json()["user_details"][0]["apiPaidTokens"]
        price(c, image_generation(imageWidth=512, imageHeight=512, numImages=1))
        after = c.get("/me").json()["user_details"][0]["apiPaidTokens"]
    stats = sim.stats()
    assert before == after and stats["credits_spent"] == 0 and stats["generations_created"] == 0
    assert stats["requests"]["POST /api/rest/v1/pricing-calculator"] == 1


def test_the_universal_upscaler_is_quoted_what_its_create_charges(sim):
    def quote(service: str, **params: Any) -> int | float:
        return price(c, {"service": service, "serviceParams": {service: params}})

    with client(sim) as c:
        image = wait_done(c, create(c, width=64, height=64))["generated_images"][0]
        plain = quote("UNIVERSAL_UPSCALER", megapixel=4)
        ultra = quote("UNIVERSAL_UPSCALER_ULTRA", inputWidth=64, inputHeight=64, upscaleMultiplier=1.5)
        job = c.post("/variations/universal-upscaler", json={"generatedImageId": image["id"]}).json()
    assert plain == ultra == job["universalUpscaler"]["apiCreditCost"] == 15


def test_variations_charge_the_tables_fixed_costs(sim):
    with client(sim) as c:
        image = wait_done(c, create(c, width=64, height=64))["generated_images"][0]
        charged = {
            route: next(iter(c.post(route, json={"id": image["id"]}).json().values()))["apiCreditCost"]
            for route in ("/variations/upscale", "/variations/unzoom", "/variations/nobg")
        }
    assert charged == {"/variations/upscale": 15, "/variations/unzoom": 15, "/variations/nobg": 5}


def test_documented_fixed_costs_of_other_services(sim):
    def fixed(service: str, **params: Any) -> int | float:
        return price(c, {"service": service, "serviceParams": {service: params}})

    with client(sim) as c:
        costs = (fixed("MOTION_SVD_GENERATION"), fixed("TEXTURE_GENERATION", preview=True),
                 fixed("TEXTURE_GENERATION", preview=False))  # fmt: skip
    assert costs == (45, 30, 150)


SMALL = {"imageWidth": 512, "imageHeight": 512, "numImages": 1}
AT = "$.serviceParams.IMAGE_GENERATION."
REFUSED = {
    "no service": ({"serviceParams": {"IMAGE_GENERATION": SMALL}}, "$.service"),
    "no serviceParams": ({"service": "IMAGE_GENERATION"}, "$.serviceParams"),
    "no params for the service": (
        {"service": "IMAGE_GENERATION", "serviceParams": {}}, "$.serviceParams.IMAGE_GENERATION"
    ),
    "no numImages": (image_generation(imageWidth=512, imageHeight=512), AT + "numImages"),
    "over 1024": (image_generation(**SMALL | {"imageWidth": 1536}), AT + "imageWidth"),
    "not a multiple of 8": (image_generation(**SMALL | {"imageWidth": 516}), AT + "imageWidth"),
    "5 large images": (image_generation(**SMALL | {"imageWidth": 1024, "numImages": 5}), AT + "numImages"),
    "few steps": (image_generation(**SMALL, inferenceSteps=5), AT + "inferenceSteps"),
    "a string count": (image_generation(**SMALL | {"numImages": "1"}), AT + "numImages"),
    "a null alchemyMode": (image_generation(**SMALL, alchemyMode=None), AT + "alchemyMode"),
    "two models": (image_generation(**SMALL, isSDXL=True, isPhoenix=True), AT + "isPhoenix"),
    "an unknown field": (image_generation(**SMALL, width=512), AT + "width"),
    "an unknown top-level field": ({**image_generation(**SMALL), "extra": 1}, "$.extra"),
    "both shapes at once": (
        {"service": "IMAGE_GENERATION", "serviceParams": {"IMAGE_GENERATION": SMALL,
                                                          "imageGenerationParams": SMALL}},
        "$.serviceParams.imageGenerationParams",
    ),
    "a service not simulated": (
        {"service": "MODEL_TRAINING", "serviceParams": {"MODEL_TRAINING": {"resolution": 512}}}, "$.service"
    ),
    "over 20 megapixels": (
        {"service": "UNIVERSAL_UPSCALER", "serviceParams": {"UNIVERSAL_UPSCALER": {"megapixel": 21}}},
        "$.serviceParams.UNIVERSAL_UPSCALER.megapixel",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_requests_it_cannot_price_are_refused_naming_the_field(sim, case):
    body, path = REFUSED[case]
    with client(sim) as c:
        assert refusal(c, body) == (400, "validation-failed", path)


def test_unknown_fields_are_ignored_when_not_strict(start_sim):
    sim = start_sim(strict=False)
    with client(sim) as c:
        quoted = price(
            c, image_generation(imageWidth=512, imageHeight=512, numImages=4, isSDXL=True, width=9)
        )
    assert quoted == 24


def test_the_calculator_needs_the_api_key(sim):
    with client(sim) as c:
        answer = c.post(
            "/pricing-calculator", json=image_generation(), headers={"authorization": "Bearer no"}
        )
    assert answer.status_code == 401


def test_video_and_realtime_services_are_quoted_what_their_creates_charge(start_sim):
    sim = start_sim(lcm_answer_seconds=0)

    def quote(service: str, **params: Any) -> int | float:
        return price(c, {"service": service, "serviceParams": {service: params}})

    def charged(route: str, body: dict[str, Any]) -> int:
        answer = c.post(route, json=body)
        assert answer.status_code == 200, answer.text
        [job] = answer.json().values()
        return job["apiCreditCost"]

    canvas = {"imageDataUrl": _jpeg_data_url(), "prompt": "p"}
    with client(sim) as c:
        pairs = [
            (quote("MOTION_VIDEO_GENERATION", resolution="RESOLUTION_480"),
             charged("/generations-text-to-video", {"prompt": "p"})),
            (quote("MOTION_VIDEO_GENERATION", resolution="RESOLUTION_720"),
             charged("/generations-text-to-video", {"prompt": "p", "resolution": "RESOLUTION_720"})),
            (quote("VEO3_MOTION_VIDEO_GENERATION", resolution="RESOLUTION_720"),
             charged("/generations-text-to-video", {"prompt": "p", "model": "VEO3"})),
            (quote("LCM_GENERATION"), charged("/generations-lcm", canvas)),
            (quote("LCM_GENERATION", width=1024), charged("/generations-lcm", canvas | {"width": 1024})),
            (quote("LCM_GENERATION", instantRefine=True), charged("/lcm-instant-refine", canvas)),
            (quote("LCM_GENERATION", refine=True), charged("/lcm-upscale", canvas)),
        ]  # fmt: skip
    assert [q for q, _ in pairs] == [c for _, c in pairs] == [100, 200, 1600, 1, 2, 2, 9]


@pytest.mark.parametrize(
    ("service", "params", "path"),
    [
        ("MOTION_VIDEO_GENERATION", {}, "resolution"),
        ("MOTION_VIDEO_GENERATION", {"resolution": "RESOLUTION_1080"}, "resolution"),
        ("VEO3_MOTION_VIDEO_GENERATION", {"resolution": "RESOLUTION_480"}, "resolution"),
        ("LCM_GENERATION", {"width": 768}, "width"),
    ],
)
def test_video_and_realtime_quotes_refuse_what_the_document_refuses(sim, service, params, path):
    with client(sim) as c:
        body = {"service": service, "serviceParams": {service: params}}
        assert refusal(c, body) == (400, "validation-failed", f"$.serviceParams.{service}.{path}")


def _jpeg_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (9, 9, 9)).save(buffer, format="JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
