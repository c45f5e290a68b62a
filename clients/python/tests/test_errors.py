"""Errors: one hierarchy carrying status, code, message and details; answers that are not the API's
envelope (the gateway's own, non-JSON bodies) get a fallback code."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fake_leo import API, FakeLeo, error

from leoclient import (
    APIError,
    AuthenticationError,
    BatchInvalidError,
    BudgetExceededError,
    Client,
    ConflictError,
    LeoError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    UnprocessableError,
)


def test_the_envelope_gives_status_code_message_and_details(client: Client):
    with pytest.raises(UnprocessableError) as raised:
        client.create_generation(width=512)

    assert raised.value.status == 422
    assert raised.value.code == "validation_error"
    assert raised.value.message == "prompt: field required"
    assert raised.value.details == [{"loc": ["prompt"]}]
    assert str(raised.value) == "validation_error: prompt: field required"


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (402, "budget_exceeded", BudgetExceededError),
        (409, "not_cancellable", ConflictError),
        (404, "not_found", NotFoundError),
        (502, "leonardo_outcome_unknown", ServerError),
        (418, "teapot", APIError),
    ],
)
def test_each_status_has_its_class_under_leo_error(
    client: Client, fake: FakeLeo, status: int, code: str, kind: type[LeoError]
):
    fake.inject("GET /v1/usage", error(status, code, "no"))

    with pytest.raises(kind) as raised:
        client.usage()

    assert isinstance(raised.value, LeoError)
    assert (raised.value.status, raised.value.code) == (status, code)


def test_the_authorizers_401_maps_to_unauthorized(fake: FakeLeo):
    client = Client(API, token="forged", transport=httpx.MockTransport(fake.handler))

    with pytest.raises(AuthenticationError) as raised:
        client.usage()

    assert (raised.value.status, raised.value.code, raised.value.message) == (
        401,
        "unauthorized",
        "Unauthorized",
    )


def test_an_unknown_route_maps_to_not_found(fake: FakeLeo):
    # Given a base URL with a stage the gateway does not serve
    client = Client(f"{API}/prod", token="t-alice", transport=httpx.MockTransport(fake.handler))

    with pytest.raises(NotFoundError) as raised:
        client.usage()

    assert (raised.value.status, raised.value.code, raised.value.message) == (404, "not_found", "Not Found")


def test_a_non_json_answer_maps_to_http_status(client: Client, fake: FakeLeo):
    fake.inject("GET /v1/usage", httpx.Response(502, text="<html>Bad Gateway</html>"))

    with pytest.raises(ServerError) as raised:
        client.usage()

    assert (raised.value.status, raised.value.code) == (502, "http_502")


def test_a_batch_refusal_given_as_a_bare_list_of_lines_is_read_too(client: Client, fake: FakeLeo):
    lines = [{"line": 2, "custom_id": "b", "code": "validation_error", "message": "prompt: field required"}]
    fake.inject("POST /v1/batches", error(422, "batch_invalid", "1 line is invalid", lines))

    with pytest.raises(BatchInvalidError) as raised:
        client.create_batch([{"custom_id": "a", "prompt": "p"}])

    assert (raised.value.valid, raised.value.invalid) == (None, 1)
    assert [(line.line, line.code) for line in raised.value.lines] == [(2, "validation_error")]


def test_a_bucket_error_keeps_its_own_code_and_message(client: Client, fake: FakeLeo, tmp_path: Path):
    job = client.generate("a lighthouse")
    expired = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    fake.inject("GET https://cdn.test/", httpx.Response(403, text=expired))

    with pytest.raises(PermissionDeniedError) as raised:
        client.download(job, tmp_path)

    assert (raised.value.code, raised.value.message) == ("http_403", "AccessDenied: Request has expired")


def test_another_users_job_is_not_found(client: Client, fake: FakeLeo):
    theirs = fake.new_job("bob", {"prompt": "theirs"})

    with pytest.raises(NotFoundError):
        client.get(theirs.id)
