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

import time
import uuid
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
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

schema = schemathesis.openapi.from_path(str(DOCUMENT))


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
    case.call_and_validate(base_url=stack.api_url, headers=auth_headers(stack, case.operation), checks=CHECKS)


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
