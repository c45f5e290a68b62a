"""Retries: 429 and 503 are retried with backoff, honouring Retry-After, a bounded number of times;
lost answers are retried only where repeating is harmless (reads and keyed creates)."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest
from conftest import FakeClock
from fake_leo import FakeLeo, error

from leoclient import Client, RateLimitError, ServerError, TransportError


def test_a_429_is_retried_after_the_seconds_retry_after_names(
    client: Client, fake: FakeLeo, clock: FakeClock
):
    # Given the API refuses the first attempt with Retry-After: 3
    fake.inject("POST /v1/generations", error(429, "rate_limited", "slow down", headers={"retry-after": "3"}))

    # When a job is created
    job = client.create_generation("a lighthouse")

    # Then the client waited at least 3 s (plus a little jitter) and the second attempt was accepted
    assert job.status == "QUEUED"
    assert len(clock.sleeps) == 1
    assert 3.0 <= clock.sleeps[0] <= 3.3


def test_a_retry_after_http_date_is_honoured(client: Client, fake: FakeLeo, clock: FakeClock):
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    fake.inject("GET /v1/usage", error(503, "leonardo_busy", "busy", headers={"retry-after": when}))

    client.usage()

    assert 3.5 <= clock.sleeps[0] <= 6.6


def test_a_503_without_retry_after_backs_off_exponentially_with_jitter(
    client: Client, fake: FakeLeo, clock: FakeClock
):
    fake.inject("GET /v1/usage", *[error(503, "leonardo_busy", "busy") for _ in range(4)])

    client.usage()

    # full jitter: each pause lies in [0, 0.5 * 2^(attempt-1)]
    assert len(clock.sleeps) == 4
    for attempt, pause in enumerate(clock.sleeps, start=1):
        assert 0 <= pause <= 0.5 * 2 ** (attempt - 1)


def test_attempts_are_bounded_and_the_last_answer_is_raised(client: Client, fake: FakeLeo, clock: FakeClock):
    fake.inject("GET /v1/usage", *[error(429, "rate_limited", "slow down", headers={"retry-after": "1"})] * 9)

    with pytest.raises(RateLimitError) as raised:
        client.usage()

    assert raised.value.status == 429
    assert raised.value.code == "rate_limited"
    assert raised.value.retry_after == "1"
    assert len([r for r in fake.requests if r.url.path == "/v1/usage"]) == 5
    assert len(clock.sleeps) == 4


def test_a_retry_after_beyond_the_limit_is_raised_at_once(client: Client, fake: FakeLeo, clock: FakeClock):
    fake.inject("GET /v1/usage", error(503, "leonardo_busy", "busy", headers={"retry-after": "3600"}))

    with pytest.raises(ServerError):
        client.usage()

    assert clock.sleeps == []


def test_one_create_keeps_its_idempotency_key_across_retries(client: Client, fake: FakeLeo):
    fake.inject("POST /v1/generations", error(503, "leonardo_busy", "busy"), "lose")

    job = client.create_generation("a lighthouse")

    creates = [r for r in fake.requests if r.method == "POST" and r.url.path == "/v1/generations"]
    keys = {r.headers["idempotency-key"] for r in creates}
    assert len(creates) == 3
    assert len(keys) == 1
    # the answer lost after the second attempt was replayed: still one job
    assert list(fake.jobs) == [job.id]


def test_a_read_is_retried_after_a_lost_answer(client: Client, fake: FakeLeo):
    job = client.create_generation("a lighthouse")
    fake.inject("GET /v1/generations/", httpx.ReadTimeout("timed out"))

    assert client.get(job.id).id == job.id


def test_an_unkeyed_post_is_not_repeated_after_a_lost_answer(client: Client, fake: FakeLeo):
    # Given a cancel whose answer is lost (the cancel took place)
    job = client.create_generation("a lighthouse")
    fake.inject("POST /v1/generations/", "lose")

    # Then the client does not send it again: it reports what happened
    with pytest.raises(TransportError) as raised:
        client.cancel(job.id)

    assert raised.value.code == "connection_error"
    assert raised.value.status is None
    assert len([r for r in fake.requests if r.url.path.endswith("/cancel")]) == 1


def test_a_connection_never_made_is_retried_even_for_an_unkeyed_post(client: Client, fake: FakeLeo):
    job = client.create_generation("a lighthouse")
    fake.inject("POST /v1/generations/", httpx.ConnectError("connection refused"))

    assert client.cancel(job.id).status == "CANCELLED"


def test_a_url_no_transport_can_reach_is_not_retried(fake: FakeLeo, clock: FakeClock):
    client = Client("ftp://leo.test", token="t-alice", sleep=clock.sleep)

    with pytest.raises(TransportError):
        client.usage()

    assert clock.sleeps == []


def test_a_token_provider_is_called_for_every_attempt(fake: FakeLeo, clock: FakeClock):
    tokens = iter(["expired", "t-alice"])
    fake.inject("GET /v1/usage", error(503, "leonardo_busy", "busy"))
    seen: list[str] = []

    def provider() -> str:
        seen.append(token := next(tokens))
        return token

    with Client(
        "http://leo.test", token=provider, transport=httpx.MockTransport(fake.handler), sleep=clock.sleep
    ) as c:
        c.usage()

    assert seen == ["expired", "t-alice"]
    assert [r.headers["authorization"] for r in fake.requests] == ["Bearer expired", "Bearer t-alice"]
