"""The real client against the Leonardo simulator: the whole generation lifecycle,
and image-to-image from an uploaded init image."""

import base64
import io
import time
from contextlib import ExitStack

import httpx
import pytest
from PIL import Image

from gencore.leonardo import (
    AuthError,
    LeonardoClient,
    NotFoundError,
    OutcomeUnknownError,
    RetryPolicy,
    UploadRefusedError,
    UploadRejectedError,
)
from gencore.leonardo.models import GenerationRequest
from leonardo_simulator import FaultConfig, SimulatorConfig, serve_in_thread

pytestmark = pytest.mark.integration

API_KEY = "k"


@pytest.fixture(scope="module")
def sim():
    config = SimulatorConfig(api_key=API_KEY, pending_seconds=0.1, port=0)
    with serve_in_thread(config) as handle:
        yield handle


@pytest.fixture
def client(sim):
    retry = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)
    with LeonardoClient(
        base_url=sim.base_url,
        api_key=API_KEY,
        read_timeout=5.0,
        retry=retry,
        upload_hosts=(sim.host,),  # the simulator's bucket is on loopback, not S3
    ) as client:
        yield client


@pytest.fixture
def start_sim_client():
    """A client on its own simulator started with the given SimulatorConfig overrides."""
    with ExitStack() as stack:

        def start(**overrides) -> LeonardoClient:
            config = SimulatorConfig(api_key=API_KEY, pending_seconds=0.1, **overrides)
            sim = stack.enter_context(serve_in_thread(config))
            return stack.enter_context(
                LeonardoClient(base_url=sim.base_url, api_key=API_KEY, upload_hosts=(sim.host,))
            )

        yield start


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _poll_until_done(client: LeonardoClient, generation_id: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        generation = client.get_generation(generation_id)
        if generation.status != "PENDING" or time.monotonic() > deadline:
            return generation
        time.sleep(0.05)


def test_create_poll_get_delete_me(client):
    me = client.me()
    assert me.user_id and me.api_concurrency_slots is not None

    request = GenerationRequest(
        prompt="a lake at dusk",
        model_id="b24e16ff-06e3-43eb-8d33-4416c2d75876",
        width=512,
        height=512,
        num_images=2,
        seed=42,
    )
    job = client.create_generation(request)
    assert job.generation_id

    generation = _poll_until_done(client, job.generation_id)
    assert generation.status == "COMPLETE"
    assert generation.id == job.generation_id
    assert generation.prompt == "a lake at dusk"
    assert (generation.image_width, generation.image_height) == (512, 512)
    assert len(generation.generated_images) == 2
    assert all(image.url for image in generation.generated_images)

    listed = client.list_user_generations(me.user_id, offset=0, limit=10)
    assert job.generation_id in {g.id for g in listed}

    assert client.delete_generation(job.generation_id) == job.generation_id
    with pytest.raises(NotFoundError):
        client.get_generation(job.generation_id)


def test_platform_models_and_wrong_key(sim, client):
    assert client.platform_models()
    with LeonardoClient(base_url=sim.base_url, api_key="wrong") as other, pytest.raises(AuthError):
        other.me()


def test_idempotent_calls_ride_out_injected_faults():
    """429s, 5xx and malformed bodies from the simulator are absorbed by the retry loop."""
    faults = FaultConfig(seed=7, http_429_rate=0.2, http_5xx_rate=0.2, malformed_json_rate=0.1)
    config = SimulatorConfig(api_key=API_KEY, pending_seconds=0.1, port=0, faults=faults)
    retry = RetryPolicy(max_attempts=12, base_delay=0.001, max_delay=0.01)
    retries: list[float] = []
    with (
        serve_in_thread(config) as sim,
        LeonardoClient(base_url=sim.base_url, api_key=API_KEY, retry=retry, sleep=retries.append) as client,
    ):
        for _ in range(10):
            assert client.me().user_id
    assert retries, "the seeded faults should have forced at least one retry"


def test_upload_init_image_then_generate_from_it(sim, client):
    picture = _png((10, 120, 200))
    upload = client.upload_init_image("png")
    assert upload.url.startswith(sim.origin) and not upload.url.startswith(sim.base_url)
    client.send_init_image(upload, picture, "image/png")

    init_image = client.init_image(upload.id)
    assert init_image.id == upload.id
    assert httpx.get(init_image.url).content == picture

    request = GenerationRequest(
        prompt="the same scene at night",
        init_image_id=upload.id,
        init_strength=0.35,
        width=64,
        height=64,
        num_images=1,
        seed=5,
    )
    generation = _poll_until_done(client, client.create_generation(request).generation_id)
    assert generation.status == "COMPLETE"
    assert sim.generations[generation.id].init_image_id == upload.id
    from_upload = httpx.get(generation.generated_images[0].url).content

    text_only = request.model_copy(update={"init_image_id": None, "init_strength": None})
    plain = _poll_until_done(client, client.create_generation(text_only).generation_id)
    assert httpx.get(plain.generated_images[0].url).content != from_upload

    assert client.delete_init_image(upload.id) == upload.id
    with pytest.raises(NotFoundError):
        client.init_image(upload.id)


def test_upload_refusals_from_the_simulator_are_typed(start_sim_client):
    client = start_sim_client(upload_max_bytes=64)
    upload = client.upload_init_image("png")
    with pytest.raises(UploadRejectedError) as caught:
        client.send_init_image(upload, b"x" * 65, "image/png")
    assert (caught.value.status, caught.value.s3_code) == (400, "EntityTooLarge")
    assert upload.fields["X-Amz-Signature"] not in str(caught.value)


def test_default_allow_list_refuses_the_simulator(sim):
    with LeonardoClient(base_url=sim.base_url, api_key=API_KEY) as client:
        upload = client.upload_init_image("png")
        with pytest.raises(UploadRefusedError):
            client.send_init_image(upload, _png((0, 0, 0)), "image/png")
    assert sim.init_images[upload.id].content is None


def test_upload_slots_ride_out_injected_faults_too():
    """POST /init-image is resent after 429s, 5xx and malformed bodies: a slot costs nothing."""
    faults = FaultConfig(seed=3, http_429_rate=0.2, http_5xx_rate=0.2, malformed_json_rate=0.2)
    config = SimulatorConfig(api_key=API_KEY, faults=faults)
    retry = RetryPolicy(max_attempts=12, base_delay=0.001, max_delay=0.01)
    retries: list[float] = []
    with (
        serve_in_thread(config) as sim,
        LeonardoClient(
            base_url=sim.base_url,
            api_key=API_KEY,
            retry=retry,
            sleep=retries.append,
            upload_hosts=(sim.host,),
        ) as client,
    ):
        for _ in range(10):
            upload = client.upload_init_image("webp")
            client.send_init_image(upload, b"RIFF....WEBP", "image/webp")  # S3 takes no faults
    assert retries, "the seeded faults should have forced at least one retry"
    assert sim.stats()["init_images_uploaded"] == 10


# -- variations, prompt tools and the canvas pair against the simulator -----------------------------


def _generated_image(client: LeonardoClient) -> str:
    request = GenerationRequest(prompt="a red boat", width=64, height=64, num_images=1, seed=11)
    generation = _poll_until_done(client, client.create_generation(request).generation_id)
    assert generation.status == "COMPLETE"
    return generation.generated_images[0].id


def _poll_variation(client: LeonardoClient, variation_id: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        variation = client.get_variation(variation_id)
        if variation.status != "PENDING" or time.monotonic() > deadline:
            return variation
        time.sleep(0.05)


VARIATIONS = {
    "upscale": lambda c, image: c.create_upscale(image),
    "unzoom": lambda c, image: c.create_unzoom(image),
    "no_background": lambda c, image: c.create_no_background(image),
    "universal_upscale": lambda c, image: c.create_universal_upscale(
        generated_image_id=image, upscaler_style="GENERAL", creativity_strength=3
    ),
}


@pytest.mark.parametrize("name", sorted(VARIATIONS))
def test_a_variation_of_a_generated_image_completes_with_its_cost(sim, client, name):
    image = _generated_image(client)
    job = VARIATIONS[name](client, image)
    assert job.id and job.cost is not None and job.cost.amount > 0

    variation = _poll_variation(client, job.id)
    assert (variation.id, variation.status) == (job.id, "COMPLETE")
    assert variation.url and httpx.get(variation.url).status_code == 200
    assert [v["sourceImageId"] for v in sim.variation_log() if v["id"] == job.id] == [image]


def test_an_unknown_variation_is_not_found(client):
    with pytest.raises(NotFoundError):
        client.get_variation("00000000-0000-4000-8000-000000000000")


def test_prompt_tools_answer_a_prompt_and_its_cost(sim, client):
    before = sim.stats()["prompt_calls"]
    improved = client.improve_prompt("a fox", "in snow")
    drawn = client.random_prompt()
    assert improved.prompt and drawn.prompt
    assert improved.cost is not None and drawn.cost is not None
    assert sim.stats()["prompt_calls"] == before + 2


def test_a_canvas_pair_is_uploaded_then_inpainted(sim, client):
    init, mask = client.upload_canvas_init_image("png", "png")
    client.send_init_image(init, _png((200, 30, 30)), "image/png")
    client.send_init_image(mask, _png((255, 255, 255)), "image/png")
    request = GenerationRequest(
        prompt="a blue door",
        canvas_request=True,
        canvas_request_type="INPAINT",
        canvas_init_id=init.id,
        canvas_mask_id=mask.id,
        init_strength=0.5,
        width=64,
        height=64,
        num_images=1,
    )
    generation = _poll_until_done(client, client.create_generation(request).generation_id)
    assert generation.status == "COMPLETE"


SPOILED = {
    "5xx after the work was created": {"http_5xx_after_create_rate": 1.0},
    "a malformed answer to the create": {"malformed_create_rate": 1.0},
    "an answer slower than the read timeout": {
        "slow_answer_after_create_rate": 1.0,
        "slow_answer_seconds": 1.0,
    },
}


@pytest.mark.parametrize("spoiled", sorted(SPOILED))
def test_a_variation_whose_answer_is_spoiled_is_created_once_and_never_resent(spoiled):
    config = SimulatorConfig(api_key=API_KEY, pending_seconds=0.1, port=0)
    with (
        serve_in_thread(config) as sim,
        LeonardoClient(
            base_url=sim.base_url,
            api_key=API_KEY,
            read_timeout=0.3,
            retry=RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01),
        ) as client,
    ):
        image = _generated_image(client)
        sim.set_faults(FaultConfig(seed=1, **SPOILED[spoiled]))
        with pytest.raises(OutcomeUnknownError):
            client.create_upscale(image)
        assert len(sim.variation_log()) == 1  # Leonardo did the work (and billed it) once


@pytest.mark.parametrize("spoiled", sorted(SPOILED))
def test_a_prompt_tool_whose_answer_is_spoiled_is_called_once(spoiled):
    faults = FaultConfig(seed=1, **SPOILED[spoiled])
    config = SimulatorConfig(api_key=API_KEY, port=0, faults=faults)
    with (
        serve_in_thread(config) as sim,
        LeonardoClient(base_url=sim.base_url, api_key=API_KEY, read_timeout=0.3) as client,
    ):
        with pytest.raises(OutcomeUnknownError):
            client.improve_prompt("a fox")
        assert sim.stats()["prompt_calls"] == 1


def _finished(client, generation_id: str):
    for _ in range(100):
        generation = client.get_generation(generation_id)
        if generation.status != "PENDING":
            return generation
        time.sleep(0.05)
    raise AssertionError("the generation never finished")


def test_a_video_from_text_is_read_back_with_its_clip(client):
    job = client.create_video("/generations-text-to-video", {"prompt": "waves at dusk", "model": "MOTION2"})
    generation = _finished(client, job.generation_id)
    (image,) = generation.generated_images
    assert generation.status == "COMPLETE" and image.motion_mp4_url
    clip = httpx.get(image.motion_mp4_url, timeout=10).content
    assert clip[4:8] == b"ftyp"


def test_a_realtime_canvas_call_answers_a_picture_and_its_cost(client):
    sketch = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(sketch, format="JPEG")
    data_url = "data:image/jpeg;base64," + base64.b64encode(sketch.getvalue()).decode()
    job = client.realtime("/generations-lcm", {"imageDataUrl": data_url, "prompt": "a red fox", "width": 512})
    (picture,) = job.image_data_url
    assert picture.startswith("data:image/jpeg;base64,") and job.cost is not None
    decoded = Image.open(io.BytesIO(base64.b64decode(picture.split(",", 1)[1])))
    assert decoded.size[0] == 512
