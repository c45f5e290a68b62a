"""Retry, backoff and timeout behaviour, over real HTTP with an injected sleep."""

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from gencore.leonardo import (
    LeonardoClient,
    OutcomeUnknownError,
    RateLimitedError,
    RetryableError,
    RetryPolicy,
)
from gencore.leonardo.client import parse_retry_after
from gencore.leonardo.models import GenerationRequest
from tests.support.scripted import API_KEY, GEN_ID, Answer, MaxRandom, generation_body, job_body

pytestmark = pytest.mark.integration

REQUEST = GenerationRequest(prompt="a lake", model_id="m-1", width=512, height=512, num_images=1)


def test_429_then_success_uses_full_jitter_backoff(server, make_client, sleeps):
    rng = MaxRandom()
    server.add(Answer(429, {"error": "rate limited"}), Answer(429), Answer(200, generation_body()))
    client = make_client(retry=RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.03), rng=rng)

    assert client.get_generation(GEN_ID).status == "COMPLETE"
    # full jitter: uniform(0, min(max_delay, base * 2**n)) for n = 0, 1
    assert rng.bounds == [(0, 0.01), (0, 0.02)]
    assert sleeps.calls == [0.01, 0.02]
    assert len(server.received) == 3


def test_backoff_ceiling_is_capped_by_max_delay(server, make_client, sleeps):
    rng = MaxRandom()
    server.add(*[Answer(503) for _ in range(5)], Answer(200, generation_body()))
    client = make_client(retry=RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.03), rng=rng)
    client.get_generation(GEN_ID)
    assert [b for _, b in rng.bounds] == [0.01, 0.02, 0.03, 0.03, 0.03]


def test_429_with_retry_after_seconds_is_honoured(server, make_client, sleeps):
    rng = MaxRandom()
    server.add(Answer(429, headers={"Retry-After": "1"}), Answer(200, generation_body()))
    client = make_client(retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=5.0), rng=rng)

    assert client.get_generation(GEN_ID).status == "COMPLETE"
    assert sleeps.calls == [1.0]
    assert rng.bounds == []  # no jitter when Leonardo says how long to wait
    assert len(server.received) == 2


def test_paid_post_makes_one_attempt_and_reports_a_429_as_retryable(server, make_client, sleeps):
    """The paid POST is never repeated inside one call: its worst case stays one exchange, and the
    caller's queue waits (at least Retry-After) before the next attempt."""
    server.add(Answer(429, headers={"Retry-After": "4"}), Answer(200, job_body()))
    with pytest.raises(RateLimitedError) as caught:
        make_client().create_generation(REQUEST)
    assert caught.value.retry_after == 4.0
    assert len(server.received) == 1 and sleeps.calls == []


def test_paid_call_seconds_is_the_sum_of_one_exchanges_timeouts():
    client = LeonardoClient(
        api_key=API_KEY, connect_timeout=1, write_timeout=2, read_timeout=3, pool_timeout=0.5
    )
    assert client.paid_call_seconds == 6.5


def test_retry_after_is_capped_at_max_delay(server, make_client, sleeps):
    server.add(Answer(429, headers={"Retry-After": "120"}), Answer(200, generation_body()))
    make_client(retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05)).get_generation(GEN_ID)
    assert sleeps.calls == [0.05]


def test_retry_after_http_date(server, make_client, sleeps):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.add(Answer(429, headers={"Retry-After": later}), Answer(200, generation_body()))
    make_client(retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05)).get_generation(GEN_ID)
    assert sleeps.calls == [0.05]


def test_retries_exhausted_raises_rate_limited_with_retry_after(server, make_client, sleeps):
    server.add(*[Answer(429, {"error": "slow down"}, headers={"Retry-After": "7"}) for _ in range(4)])
    with pytest.raises(RateLimitedError) as caught:
        make_client().get_generation(GEN_ID)
    err = caught.value
    assert isinstance(err, RetryableError)
    assert (err.status, err.code, err.retry_after, err.retryable) == (429, "leonardo_rate_limited", 7.0, True)
    assert len(server.received) == 4  # max_attempts counts the first try
    assert len(sleeps.calls) == 3


def test_5xx_then_success(server, make_client, sleeps):
    server.add(Answer(500, {"error": "boom"}), Answer(502, "bad gateway"), Answer(200, generation_body()))
    assert make_client().get_generation(GEN_ID).status == "COMPLETE"
    assert len(server.received) == 3 and len(sleeps.calls) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_to_the_paid_post_is_outcome_unknown_and_never_resent(server, make_client, sleeps, status):
    """A gateway 502/504, or a 500 after Leonardo created the job: the generation may exist."""
    server.add(Answer(status, {"error": "boom"}, headers={"Retry-After": "3"}), Answer(200, job_body()))
    with pytest.raises(OutcomeUnknownError) as caught:
        make_client().create_generation(REQUEST)
    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (
        status,
        "leonardo_outcome_unknown",
        3.0,
    )
    assert len(server.received) == 1 and sleeps.calls == []


def test_5xx_exhausted(server, make_client):
    server.add(*[Answer(503, {"error": "unavailable"}) for _ in range(4)])
    with pytest.raises(RetryableError) as caught:
        make_client().me()
    assert type(caught.value) is RetryableError
    assert (caught.value.status, caught.value.code) == (503, "leonardo_unavailable")
    assert caught.value.body == {"error": "unavailable"}


def test_single_attempt_policy_never_retries(server, make_client, sleeps):
    server.add(Answer(503), Answer(200, generation_body()))
    with pytest.raises(RetryableError):
        make_client(retry=RetryPolicy(max_attempts=1)).get_generation(GEN_ID)
    assert sleeps.calls == [] and len(server.received) == 1


def test_read_timeout_on_get_is_retried(server, make_client, sleeps):
    server.add(Answer(200, generation_body(), delay=1.0), Answer(200, generation_body()))
    client = make_client(read_timeout=0.2)
    assert client.get_generation(GEN_ID).status == "COMPLETE"
    assert len(server.received) == 2 and len(sleeps.calls) == 1


def test_read_timeout_on_get_exhausted_is_retryable(server, make_client):
    server.add(*[Answer(200, generation_body(), delay=1.0) for _ in range(2)])
    client = make_client(read_timeout=0.2, retry=RetryPolicy(max_attempts=2, base_delay=0, max_delay=0))
    with pytest.raises(RetryableError) as caught:
        client.get_generation(GEN_ID)
    assert (caught.value.status, caught.value.code) == (None, "leonardo_unavailable")
    assert "ReadTimeout" in str(caught.value)


def test_post_is_not_resent_after_read_timeout(server, make_client, sleeps):
    """The request reached Leonardo: resending could create and bill a second generation."""
    server.add(Answer(200, job_body(), delay=1.0), Answer(200, job_body("second")))
    client = make_client(read_timeout=0.2)
    with pytest.raises(OutcomeUnknownError) as caught:
        client.create_generation(REQUEST)
    err = caught.value
    assert not isinstance(err, RetryableError)
    assert (err.code, err.status, err.retryable) == ("leonardo_outcome_unknown", None, False)
    assert len(server.received) == 1 and sleeps.calls == []


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/rest/v1"  # nothing listens there any more


def test_connection_refused_is_retried_then_retryable(sleeps):
    client = LeonardoClient(
        base_url=_refused_url(),
        api_key=API_KEY,
        connect_timeout=0.5,
        retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02),
        sleep=sleeps,
    )
    with client, pytest.raises(RetryableError) as caught:
        client.get_generation(GEN_ID)
    assert caught.value.code == "leonardo_unavailable"
    assert "ConnectError" in str(caught.value)
    assert len(sleeps.calls) == 2


def test_refused_connection_on_the_paid_post_is_retryable(sleeps):
    """A refused connection means the request never left: the caller may send it again (later)."""
    client = LeonardoClient(
        base_url=_refused_url(),
        api_key=API_KEY,
        retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02),
        sleep=sleeps,
    )
    with client, pytest.raises(RetryableError) as caught:
        client.create_generation(REQUEST)
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert sleeps.calls == []


@pytest.mark.unit
@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("3", 3.0), (" 2.5 ", 2.5), ("-4", 0.0), ("soon", None), ("nan", None)],
)
def test_parse_retry_after_seconds(header, expected):
    assert parse_retry_after(header) == expected


@pytest.mark.unit
def test_parse_retry_after_dates():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:10 GMT", now=now.timestamp()) == pytest.approx(10)
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now.timestamp()) == 0.0


@pytest.mark.unit
def test_retry_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)
