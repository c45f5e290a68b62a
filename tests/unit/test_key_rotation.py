"""Rotating the Leonardo API key reaches warm functions (docs/runbook.md, Rotating the keys).

The runbook promises a new key is in use everywhere within the secret cache's max age
(SECRET_CACHE_SECONDS, 300 s) without a deploy, and at once when Leonardo refuses the old one.
These specs run gencore.wiring's own gateway on moto's Secrets Manager, with Leonardo answered by an
in-process transport that records the bearer of every request.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import base as parameters_base
from moto import mock_aws

import gencore.leonardo
from gencore import wiring
from gencore.adapters.secrets import SecretMissing
from gencore.clients import aws

SECRET = "leonardo-api-key"
ME = {
    "user_details": [
        {
            "user": {"id": "u-1", "username": "someone"},
            "apiPaidTokens": 10,
            "apiSubscriptionTokens": 0,
            "apiConcurrencySlots": 5,
            "apiPlanTokenRenewalDate": None,
        }
    ]
}


class Leonardo:
    """Accepts one key at a time; records the bearer of every request."""

    def __init__(self, valid: str) -> None:
        self.valid = valid
        self.bearers: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        bearer = request.headers["authorization"].removeprefix("Bearer ")
        self.bearers.append(bearer)
        if bearer != self.valid:
            return httpx.Response(401, json={"error": "Invalid API key"})
        if request.method == "DELETE":
            return httpx.Response(200, json={"delete_init_images_by_pk": {"id": "init-1"}})
        return httpx.Response(200, json=ME)


@pytest.fixture
def leonardo(monkeypatch) -> Leonardo:
    server = Leonardo("key-1")
    real = gencore.leonardo.LeonardoClient

    def client(**kwargs):
        return real(**kwargs, transport=httpx.MockTransport(server))

    monkeypatch.setattr(gencore.leonardo, "LeonardoClient", client)
    return server


@pytest.fixture
def secrets(monkeypatch):
    for name, value in {
        "JOBS_TABLE": "jobs", "IDEMPOTENCY_TABLE": "idem", "OUTPUT_BUCKET": "out",
        "SUBMIT_QUEUE_URL": "q", "EVENTS_QUEUE_URL": "e", "WEBHOOK_SECRET": "webhook",
        "LEONARDO_API_KEY_SECRET": SECRET, "LEONARDO_BASE_URL": "https://leonardo.test/api/rest/v1",
        "SECRET_CACHE_SECONDS": "300",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    with mock_aws():
        wiring.reset()
        parameters.clear_caches()
        client = aws("secretsmanager")
        client.create_secret(Name=SECRET, SecretString=json.dumps({"api_key": "key-1"}))
        yield client
        wiring.reset()
        parameters.clear_caches()


def rotate(secrets, key: str) -> None:
    secrets.put_secret_value(SecretId=SECRET, SecretString=json.dumps({"api_key": key}))


def later(monkeypatch, seconds: int) -> None:
    """The secret cache's clock moves on (Powertools compares its entries' expiry with datetime.now)."""

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(seconds=seconds)

    monkeypatch.setattr(parameters_base, "datetime", Later)


def test_a_warm_function_keeps_its_key_while_the_secret_cache_is_fresh(secrets, leonardo, monkeypatch):
    # Given a warm gateway that used key-1, and the secret rotated to key-2 (key-1 not yet deleted)
    gateway = wiring.leonardo()
    gateway.account()
    rotate(secrets, "key-2")
    leonardo.bearers.clear()
    # When it calls again within the cache's max age
    later(monkeypatch, 200)
    gateway.account()
    # Then it still sends the cached key (Leonardo accepts it until the old key is deleted)
    assert leonardo.bearers == ["key-1"]


def test_a_warm_function_uses_a_rotated_key_once_the_secret_cache_expires(secrets, leonardo, monkeypatch):
    # Given a warm gateway that used key-1
    gateway = wiring.leonardo()
    gateway.account()
    # When the secret is rotated and the cache's max age (300 s) has passed
    rotate(secrets, "key-2")
    leonardo.valid = "key-2"
    leonardo.bearers.clear()
    later(monkeypatch, 301)
    gateway.account()
    # Then the next call carries the new key, at the first attempt (no 401 needed)
    assert leonardo.bearers == ["key-2"]


def test_a_401_reads_the_key_again_past_the_cache_and_retries_once(secrets, leonardo):
    # Given a warm gateway that used key-1, and Leonardo now accepting only key-2 (old key deleted
    # right after the rotation, inside the cache's max age)
    gateway = wiring.leonardo()
    gateway.account()
    rotate(secrets, "key-2")
    leonardo.valid = "key-2"
    leonardo.bearers.clear()
    # When it calls
    status = gateway.account()
    # Then the refused call is sent again once, with the key read afresh
    assert leonardo.bearers == ["key-1", "key-2"]
    assert status.ok
    # And the next call uses the new key straight away
    leonardo.bearers.clear()
    gateway.account()
    assert leonardo.bearers == ["key-2"]


def test_a_key_refused_after_reading_it_again_is_refused_once(secrets, leonardo):
    # Given a secret holding a key Leonardo does not accept
    leonardo.valid = "key-9"
    gateway = wiring.leonardo()
    # When a call is made
    status = gateway.account()
    # Then it is tried with the cached key and the re-read one, then the account is refused
    assert (status.ok, status.reason) == (False, "leonardo_auth")
    assert leonardo.bearers == ["key-1", "key-1"]


def test_a_keyed_call_outside_the_account_calls_reads_the_key_again_on_a_401(secrets, leonardo):
    # Given a gateway whose cached key Leonardo no longer accepts
    gateway = wiring.leonardo()
    gateway.account()
    rotate(secrets, "key-2")
    leonardo.valid = "key-2"
    leonardo.bearers.clear()
    # When it deletes an init image (a keyed, non-account call)
    gateway.delete_init_image("init-1")
    # Then the refused request was sent again with the key read afresh
    assert leonardo.bearers == ["key-1", "key-2"]


def test_a_secret_that_cannot_be_read_again_keeps_the_key_in_use(secrets, leonardo, monkeypatch):
    # Given a warm gateway that used key-1
    gateway = wiring.leonardo()
    gateway.account()
    leonardo.bearers.clear()
    # When the cache has expired and Secrets Manager no longer answers (here: the secret is gone)
    secrets.delete_secret(SecretId=SECRET, ForceDeleteWithoutRecovery=True)
    later(monkeypatch, 301)
    status = gateway.account()
    # Then the call goes on with the key in use, which Leonardo still accepts
    assert status.ok and leonardo.bearers == ["key-1"]


def test_a_cold_gateway_without_its_secret_fails_closed(secrets, leonardo):
    # Given no readable secret and no client built yet
    secrets.delete_secret(SecretId=SECRET, ForceDeleteWithoutRecovery=True)
    # When a call is made, Then it fails without reaching Leonardo
    with pytest.raises(SecretMissing):
        wiring.leonardo().account()
    assert leonardo.bearers == []
