"""Schemathesis against docs/openapi.json: every operation, authenticated, over real HTTP on the local stack.

Each operation gets FUZZ_EXAMPLES generated cases (default 30; FUZZ_EXAMPLES=10000 for the long run),
in both of schemathesis' modes: positive (valid by the document) and negative (violating it). Every
answer must be
- not a server error (no 5xx, including the gateway's own 500 for a handler that raised),
- a documented status code for that operation,
- of a documented content type,
- valid against the documented schema for that status.
Routes with a JWT get a valid token for a fuzz user; the webhook route gets the webhook key.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import unquote

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import FUZZ_EXAMPLES

pytestmark = pytest.mark.fuzz

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_USER = f"fuzz-{uuid.uuid4().hex[:8]}"
SEEN: dict[str, Counter[int]] = defaultdict(Counter)

schema = schemathesis.openapi.from_path(str(DOCUMENT))
if ONLY := os.environ.get("FUZZ_ONLY"):  # re-run the operations whose path matches this regex
    schema = schema.include(path_regex=ONLY)


def auth_headers(stack, operation) -> dict[str, str]:
    """The credentials the operation's security requirement names (document-level default: jwt)."""
    requirements = operation.definition.raw.get("security", schema.raw_schema.get("security", []))
    names = {name for requirement in requirements for name in requirement}
    if "webhookKey" in names:
        return {"authorization": f"Bearer {stack.config.webhook_key}"}
    if "jwt" in names:
        return {"authorization": f"Bearer {stack.token(FUZZ_USER)}"}
    return {}


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the tree
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
def test_every_operation_conforms(case, stack):
    # Framing headers with invented values (a Content-Length of "%a$j") are not valid HTTP: the
    # HTTP server answers them before any route (uvicorn locally, API Gateway on AWS), in its own
    # text/plain. They are the transport's to refuse, not the API's, so they are not generated.
    framing = {"content-length", "transfer-encoding", "host", "connection", "expect"}
    assume(not framing & {name.lower() for name in (case.headers or {})})
    # Two kinds of path value are not this operation's to answer, so they are not generated:
    # - "/" (sent as %2F) splits the path: the gateway finds no route and answers API Gateway's own
    #   404 {"message": "Not Found"}, as AWS does for any unknown route;
    # - tab, CR, LF: local-runner gaps. Starlette's {path:path} (`.*`) does not match a newline
    #   (a text/plain 404), and the gateway routes on `request.url.path`, which urlsplit has
    #   stripped of tab/CR/LF (so "/v1/generations/%0D" is routed as "/v1/generations/").
    sent = unquote(case.formatted_path)
    assume(not any(c in sent for c in "\t\r\n") and sent.count("/") == case.path.count("/"))
    response = case.call_and_validate(
        base_url=stack.api_url, headers=auth_headers(stack, case.operation), checks=CHECKS
    )
    SEEN[case.operation.label][response.status_code] += 1


def test_the_fuzzing_reached_the_handlers():
    """Guard against a fuzz run that only ever met the authorizer (or only ever got validation errors)."""
    if not SEEN:
        pytest.skip("run together with test_every_operation_conforms")
    print({label: dict(statuses) for label, statuses in SEEN.items()})
    for label, statuses in SEEN.items():
        assert set(statuses) - {401}, f"{label}: every answer was 401: {dict(statuses)}"
    if ONLY:
        return  # a partial run: the operations below may not be in it
    assert any(200 <= code < 300 for code in SEEN["GET /v1/generations"]), dict(SEEN["GET /v1/generations"])
    assert any(200 <= code < 300 for code in SEEN["POST /v1/generations"]), dict(SEEN["POST /v1/generations"])
    assert 404 in SEEN["GET /v1/generations/{job_id}"], dict(SEEN["GET /v1/generations/{job_id}"])


def test_accepted_requests_are_ones_leonardo_accepts(stack, api):
    """Every job the fuzzing got a 202 for is one Leonardo takes: none fails `leonardo_rejected`."""
    if not SEEN:
        pytest.skip("run together with test_every_operation_conforms")
    headers = {"authorization": f"Bearer {stack.token(FUZZ_USER)}"}
    deadline = time.monotonic() + 30
    while True:
        jobs, cursor = [], None
        for _ in range(1000):  # bounded: 100,000 jobs
            params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
            page = api.get("/v1/generations", params=params, headers=headers).json()
            jobs += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        if all(job["status"] != "QUEUED" for job in jobs) or time.monotonic() > deadline:
            break
        time.sleep(1)
    rejected = [
        job["request"] | job["error"]
        for job in jobs
        if (job["error"] or {}).get("code") == "leonardo_rejected"
    ]
    assert not rejected, rejected[:5]


def test_known_good_answers_conform(stack):
    """The success paths fuzzing rarely reaches (a finished job by id, a page with a cursor),
    validated against the document with the same checks."""
    user = f"fuzz-good-{uuid.uuid4().hex[:8]}"
    headers = {"authorization": f"Bearer {stack.token(user)}"}
    body = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_images": 2}
    create = schema["/v1/generations"]["POST"]
    created = []
    for seed in range(3):
        response = create.Case(body=body | {"seed": seed}, headers={"idempotency-key": f"k-{seed}"}).call(
            base_url=stack.api_url, headers=headers
        )
        assert response.status_code == 202, response.text
        created.append(response.json()["id"])
    get = schema["/v1/generations/{job_id}"]["GET"]
    job = None
    for _ in range(150):  # bounded: 30 s
        response = get.Case(path_parameters={"job_id": created[0]}).call_and_validate(
            base_url=stack.api_url, headers=headers, checks=CHECKS
        )
        job = response.json()
        if job["status"] in ("COMPLETE", "FAILED"):
            break
        time.sleep(0.2)
    assert job and job["status"] == "COMPLETE" and len(job["images"]) == 2, job
    # The same Idempotency-Key again: 200 with the existing job, documented too.
    again = create.Case(body=body | {"seed": 0}, headers={"idempotency-key": "k-0"}).call_and_validate(
        base_url=stack.api_url, headers=headers, checks=CHECKS
    )
    assert again.status_code == 200 and again.json()["id"] == created[0]
    listing = schema["/v1/generations"]["GET"]
    page = listing.Case(query={"limit": 2}).call_and_validate(
        base_url=stack.api_url, headers=headers, checks=CHECKS
    )
    cursor = page.json()["next_cursor"]
    assert cursor and len(page.json()["items"]) == 2
    rest = listing.Case(query={"limit": 2, "cursor": cursor}).call_and_validate(
        base_url=stack.api_url, headers=headers, checks=CHECKS
    )
    assert [item["id"] for item in rest.json()["items"]] == [created[0]]
    webhook = schema["/webhooks/leonardo"]["POST"]
    hook_headers = {"authorization": f"Bearer {stack.config.webhook_key}"}
    for case_body in ({}, {"type": "x"}, []):
        webhook.Case(body=case_body).call_and_validate(
            base_url=stack.api_url, headers=hook_headers, checks=CHECKS
        )


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        # Found by schemathesis: Powertools raised a bare ValueError (500) for this one ...
        ("multipart/form-data", b'{"prompt": "x"}', 415, "unsupported_media_type"),
        ("multipart/form-data", b"", 415, "unsupported_media_type"),
        # ... and answered these with a 415 of its own, undocumented shape.
        ("text/plain", b'{"prompt": "x"}', 415, "unsupported_media_type"),
        ("application/x-www-form-urlencoded", b"prompt=x", 415, "unsupported_media_type"),
        ("application/octet-stream", b"\xff\xfe", 415, "unsupported_media_type"),
        # Found with the webhook's bodies: nesting deeper than json allows raised RecursionError (500).
        ("application/json", b"[" * 100_000 + b"]" * 100_000, 400, "malformed_json"),
        ("application/json; charset=utf-8", b'{"prompt": "x", "width": 7}', 422, "validation_error"),
        # Found by schemathesis: a model id of 36 dashes was accepted (202), then Leonardo rejected it.
        ("application/json", b'{"prompt": "x", "model_id": "' + b"-" * 36 + b'"}', 422, "validation_error"),
        # ... and so was a prompt of control characters that Leonardo counts as blank.
        ("application/json", b'{"prompt": "\\u001e\\u001f"}', 422, "validation_error"),
    ],
)
def test_regressions_found_by_fuzzing(stack, content_type, body, status, code):
    headers = {"authorization": f"Bearer {stack.token(FUZZ_USER)}", "content-type": content_type}
    response = (
        schema["/v1/generations"]["POST"]
        .Case(media_type="application/json")
        .call(base_url=stack.api_url, headers=headers, data=body)
    )
    assert response.status_code == status, response.text[:300]
    assert response.json()["error"]["code"] == code
