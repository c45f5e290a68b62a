"""Recognising the generation of an unanswered POST in Leonardo's list (LeonardoGateway against the
simulator): every echoed field must match, the list is read back by time and not by a count, and
a request it cannot see the end of is reported as such rather than guessed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gencore.adapters import leonardo_lookup as gateway_module
from gencore.adapters.leonardo import LeonardoGateway
from gencore.domain.errors import AccountRefused, LookupIncomplete
from gencore.domain.kinds import LeonardoCall, Refs
from gencore.domain.kinds.image import generation_call
from gencore.leonardo import LeonardoClient, RetryPolicy
from leonardo_simulator import SimulatorConfig, serve_in_thread

pytestmark = pytest.mark.integration

API_KEY = "lookup-key"
REQUEST = {
    "prompt": "a lighthouse on a cliff at dawn",
    "negative_prompt": None,
    "model_id": "b24e16ff-06e3-43eb-8d33-4416c2d75876",
    "width": 256,
    "height": 192,
    "num_images": 1,
    "guidance_scale": 7.5,
}


@pytest.fixture
def sim():
    with serve_in_thread(SimulatorConfig(api_key=API_KEY, pending_seconds=60, port=0)) as handle:
        yield handle


@pytest.fixture
def gateway(sim):
    def client(*, fresh_key: bool = False) -> LeonardoClient:
        retry = RetryPolicy(max_attempts=2, base_delay=0, max_delay=0)
        return LeonardoClient(base_url=sim.base_url, api_key=API_KEY, retry=retry)

    return LeonardoGateway(client)


def call(request: dict, seed: int) -> LeonardoCall:
    return generation_call(request, Refs(), seed)


def since() -> datetime:
    return datetime.now(UTC)


def test_only_the_generation_with_every_echoed_field_and_the_seed_matches(gateway):
    start = since()
    own, _ = gateway.start(call(REQUEST, 111))
    gateway.start(call(REQUEST, 222))  # another job: the same prompt, another seed
    gateway.start(call(REQUEST | {"guidance_scale": 9.0}, 111))  # another request, same seed
    gateway.start(call(REQUEST | {"negative_prompt": "fog"}, 111))
    gateway.start(call(REQUEST | {"width": 264}, 111))
    assert gateway.find_generations(call(REQUEST, 111), since=start) == [own]


def test_the_list_is_read_back_by_time_past_a_backlog(gateway):
    start = since()
    own, _ = gateway.start(call(REQUEST, 5))
    for i in range(gateway_module.LOOKUP_PAGE + 7):  # the job's own scrolled off the first page
        gateway.start(call(REQUEST | {"prompt": f"backlog {i}"}, i))
    assert gateway.find_generations(call(REQUEST, 5), since=start) == [own]


def test_generations_from_before_the_post_are_not_candidates(gateway):
    gateway.start(call(REQUEST, 9))
    later = since() + gateway_module.CLOCK_SKEW + timedelta(seconds=1)
    assert gateway.find_generations(call(REQUEST, 9), since=later) == []


def test_matches_come_oldest_first(gateway):
    start = since()
    first, _ = gateway.start(call(REQUEST, 3))
    second, _ = gateway.start(call(REQUEST, 3))
    assert gateway.find_generations(call(REQUEST, 3), since=start) == [first, second]


def test_a_list_it_cannot_read_back_far_enough_is_reported_not_guessed(gateway, monkeypatch):
    start = since()
    monkeypatch.setattr(gateway_module, "LOOKUP_PAGE", 2)
    monkeypatch.setattr(gateway_module, "LOOKUP_MAX_PAGES", 2)
    for i in range(6):
        gateway.start(call(REQUEST, 100 + i))
    with pytest.raises(LookupIncomplete):
        gateway.find_generations(call(REQUEST, 100), since=start)


def test_equal_requests_have_equal_fingerprints_and_the_seed_tells_them_apart(gateway):
    same = gateway.request_fingerprint(call(REQUEST | {"num_images": 4}, 1))
    assert same == gateway.request_fingerprint(call(REQUEST, 1))  # the list does not echo num_images
    assert gateway.request_fingerprint(call(REQUEST, 2)) != gateway.request_fingerprint(call(REQUEST, 1))


def test_a_key_refused_twice_is_an_account_problem_not_a_job_problem(sim):
    reads = []

    def client(*, fresh_key: bool = False) -> LeonardoClient:
        reads.append(fresh_key)
        return LeonardoClient(base_url=sim.base_url, api_key="revoked", retry=RetryPolicy(max_attempts=1))

    with pytest.raises(AccountRefused) as refused:
        LeonardoGateway(client).start(call(REQUEST, 1))
    assert refused.value.reason == "leonardo_auth"
    assert reads == [False, True]  # the key was read again once before giving up
