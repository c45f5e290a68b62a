"""The real client against the Leonardo simulator: the whole generation lifecycle."""

import time

import pytest

from gencore.leonardo import AuthError, LeonardoClient, NotFoundError, RetryPolicy
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
    with LeonardoClient(base_url=sim.base_url, api_key=API_KEY, read_timeout=5.0, retry=retry) as client:
        yield client


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
