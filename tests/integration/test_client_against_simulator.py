"""The real client against the Leonardo simulator: the whole generation lifecycle,
and image-to-image from an uploaded init image."""

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
