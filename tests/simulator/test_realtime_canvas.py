"""The realtime canvas (LCM), read as a specification: four synchronous routes that answer with the
picture as a base64 JPEG data URL after `lcm_answer_seconds`, within the document's caps, billed per
call, the same picture for the same call."""

from __future__ import annotations

import base64
import io
import time

import pytest
from PIL import Image

from leonardo_simulator import SimulatorConfig

from .helpers import client

pytestmark = pytest.mark.integration

GENERATE, REFINE, INPAINT, UPSCALE = (
    "/generations-lcm",
    "/lcm-instant-refine",
    "/lcm-inpainting",
    "/lcm-upscale",
)
ROUTES = (GENERATE, REFINE, INPAINT, UPSCALE)


def data_url(colour: tuple[int, int, int] = (30, 120, 200), size: int = 64, fmt: str = "JPEG") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format=fmt)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def body(route: str, **fields) -> dict:
    base = {"imageDataUrl": data_url(), "prompt": "a castle on a hill"}
    if route == INPAINT:
        base["maskDataUrl"] = data_url((255, 255, 255))
    return base | fields


def picture(answer: dict) -> Image.Image:
    [url] = answer["lcmGenerationJob"]["imageDataUrl"]
    prefix = "data:image/jpeg;base64,"
    assert url.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :])))
    assert image.format == "JPEG"
    return image


@pytest.fixture
def lcm(start_sim):
    return start_sim(lcm_answer_seconds=0)


@pytest.mark.parametrize("route", ROUTES)
def test_each_route_answers_the_picture_at_once(lcm, route):
    with client(lcm) as c:
        answer = c.post(route, json=body(route, width=640, height=512, requestTimestamp="1234567890"))
    assert answer.status_code == 200, answer.text
    job = answer.json()["lcmGenerationJob"]
    assert job["requestTimestamp"] == "1234567890"
    expected = (1280, 1024) if route == UPSCALE else (640, 512)  # ours: the upscale doubles
    assert picture(answer.json()).size == expected


def test_the_size_defaults_to_512_and_the_timestamp_to_now(lcm):
    with client(lcm) as c:
        before = int(time.time() * 1000)
        answer = c.post(GENERATE, json=body(GENERATE)).json()
    assert picture(answer).size == (512, 512)
    assert int(answer["lcmGenerationJob"]["requestTimestamp"]) >= before


def test_the_same_call_gives_the_same_picture_and_the_prompt_or_seed_change_it(lcm):
    with client(lcm) as c:
        first, again, other_seed, other_prompt = (
            c.post(GENERATE, json=body(GENERATE, **extra)).json()["lcmGenerationJob"]["imageDataUrl"]
            for extra in ({"seed": 1}, {"seed": 1}, {"seed": 2}, {"seed": 1, "prompt": "a ship"})
        )
    assert first == again and len({first[0], other_seed[0], other_prompt[0]}) == 3


def test_strength_decides_how_far_the_picture_moves_from_the_input(lcm):
    source = Image.new("RGB", (512, 512), (30, 120, 200))

    def distance(strength: float) -> float:
        with client(lcm) as c:
            answer = c.post(GENERATE, json=body(GENERATE, strength=strength, seed=3)).json()
        pixels = zip(picture(answer).convert("RGB").tobytes(), source.tobytes(), strict=True)
        return sum(abs(a - b) for a, b in pixels)

    assert distance(0.1) < distance(0.9)


def test_inpainting_changes_only_the_white_of_the_mask(lcm):
    mask = Image.new("L", (512, 512), 0)
    mask.paste(255, (256, 0, 512, 512))  # the right half
    buffer = io.BytesIO()
    mask.convert("RGB").save(buffer, format="PNG")
    mask_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    with client(lcm) as c:
        answer = c.post(INPAINT, json=body(INPAINT, maskDataUrl=mask_url, strength=1.0, seed=4)).json()
    out = picture(answer).convert("RGB")
    assert all(abs(a - b) < 12 for a, b in zip(out.getpixel((40, 40)), (30, 120, 200), strict=True))


def test_every_call_is_billed_and_counted(lcm):
    with client(lcm) as c:
        costs = [
            c.post(route, json=body(route, **size)).json()["lcmGenerationJob"]["apiCreditCost"]
            for route, size in (
                (GENERATE, {}),
                (GENERATE, {"width": 1024}),
                (REFINE, {}),
                (INPAINT, {}),
                (UPSCALE, {}),
            )
        ]
        balance = c.get("/me").json()["user_details"][0]["apiPaidTokens"]
    assert costs == [1, 2, 2, 1, 9]  # ours: 1 (2 over 640 px), +1 instant refine, +8 Alchemy upscale
    assert balance == 100_000 - sum(costs)
    stats = lcm.stats()
    assert (stats["lcm_calls"], stats["credits_spent"]) == (5, sum(costs))


def test_an_account_billed_in_dollars_is_answered_in_dollars(start_sim):
    sim = start_sim(lcm_answer_seconds=0, cost_unit="DOLLARS")
    with client(sim) as c:
        job = c.post(GENERATE, json=body(GENERATE)).json()["lcmGenerationJob"]
    assert (job["apiCreditCost"], job["cost"]) == (None, {"amount": "0.0012", "unit": "DOLLARS"})


def test_the_answer_takes_lcm_answer_seconds(start_sim):
    sim = start_sim(lcm_answer_seconds=0.3)
    with client(sim) as c:
        started = time.monotonic()
        assert c.post(GENERATE, json=body(GENERATE)).status_code == 200
        took = time.monotonic() - started
    assert 0.3 <= took < 2.0  # at least the answer time; the bound only catches a runaway wait


def test_the_answer_time_defaults_to_a_third_of_a_second_and_is_read_from_the_environment():
    assert SimulatorConfig().lcm_answer_seconds == 0.3
    assert SimulatorConfig.from_env({"LEONARDO_SIM_LCM_ANSWER_SECONDS": "0"}).lcm_answer_seconds == 0
    with pytest.raises(ValueError):
        SimulatorConfig(lcm_answer_seconds=-1)


REFUSED = {
    "no imageDataUrl": (GENERATE, {"imageDataUrl": None}, "$.imageDataUrl"),
    "no prompt": (GENERATE, {"prompt": None}, "$.prompt"),
    "a blank prompt": (GENERATE, {"prompt": " "}, "$.prompt"),
    "no mask for inpainting": (INPAINT, {"maskDataUrl": None}, "$.maskDataUrl"),
    "a URL, not a data URL": (GENERATE, {"imageDataUrl": "https://example.com/a.jpg"}, "$.imageDataUrl"),
    "a gif data URL": (GENERATE, {"imageDataUrl": "data:image/gif;base64,R0lGOD"}, "$.imageDataUrl"),
    "bad base64": (GENERATE, {"imageDataUrl": "data:image/jpeg;base64,***"}, "$.imageDataUrl"),
    "base64 that is no picture": (
        GENERATE,
        {"imageDataUrl": "data:image/jpeg;base64,aGVsbG8="},
        "$.imageDataUrl",
    ),
    "width 768": (GENERATE, {"width": 768}, "$.width"),
    "height 2048": (REFINE, {"height": 2048}, "$.height"),
    "3 steps": (GENERATE, {"steps": 3}, "$.steps"),
    "17 steps": (INPAINT, {"steps": 17}, "$.steps"),
    "fractional steps": (GENERATE, {"steps": 4.5}, "$.steps"),
    "guidance 0.4": (GENERATE, {"guidance": 0.4}, "$.guidance"),
    "guidance 21": (UPSCALE, {"guidance": 21}, "$.guidance"),
    "strength 0.05": (GENERATE, {"strength": 0.05}, "$.strength"),
    "strength 1.1": (REFINE, {"strength": 1.1}, "$.strength"),
    "an unknown style": (GENERATE, {"style": "BAROQUE"}, "$.style"),
    "a numeric timestamp": (GENERATE, {"requestTimestamp": 123}, "$.requestTimestamp"),
    "a seed over the cap": (GENERATE, {"seed": 9_999_999_999}, "$.seed"),
    "refineStrength 0.95": (UPSCALE, {"refineStrength": 0.95}, "$.refineStrength"),
    "refineStrength off the upscale": (GENERATE, {"refineStrength": 0.6}, "$.refineStrength"),
    "a mask off inpainting": (GENERATE, {"maskDataUrl": data_url()}, "$.maskDataUrl"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_documented_caps_are_400s_naming_the_field_and_charge_nothing(lcm, case):
    route, fields, path = REFUSED[case]
    with client(lcm) as c:
        request = {k: v for k, v in (body(route) | fields).items() if v is not None}
        answer = c.post(route, json=request)
    assert (answer.status_code, answer.json()["code"], answer.json()["path"]) == (
        400,
        "validation-failed",
        path,
    )
    assert lcm.stats()["credits_spent"] == 0


def test_every_documented_field_is_accepted(lcm):
    fields = {"guidance": 7.5, "strength": 0.5, "style": "CINEMATIC", "steps": 8, "seed": 42, "width": 1024}
    with client(lcm) as c:
        plain = c.post(GENERATE, json=body(GENERATE, **fields))
        upscale = c.post(UPSCALE, json=body(UPSCALE, refineCreative=True, refineStrength=0.5))
    assert (plain.status_code, upscale.status_code) == (200, 200)


def test_a_png_canvas_is_taken_too(lcm):
    with client(lcm) as c:
        answer = c.post(GENERATE, json=body(GENERATE, imageDataUrl=data_url(fmt="PNG")))
    assert answer.status_code == 200


def test_the_routes_need_the_api_key(lcm):
    with client(lcm) as c:
        answer = c.post(GENERATE, json=body(GENERATE), headers={"authorization": "Bearer nope"})
    assert answer.status_code == 401


def test_the_answer_fits_lambdas_response_limit_at_the_largest_size(lcm):
    with client(lcm) as c:
        answer = c.post(UPSCALE, json=body(UPSCALE, width=1024, height=1024))
    assert picture(answer.json()).size == (2048, 2048)
    assert len(answer.content) < 6 * 1024 * 1024
