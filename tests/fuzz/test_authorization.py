"""Another user's ids: every id-taking route answers 404 (never 403, never 200, never the data).

The routes come from docs/openapi.json, not from a list here: every operation whose path has a
parameter is called as user B with an id that belongs to user A: today `GET /v1/generations/{job_id}`,
`GET /v1/uploads/{upload_id}` and `POST /v1/uploads/{upload_id}/complete` (images are read through
their job; datasets and models have no routes yet). New id-taking routes are picked up from the
document automatically; `OWNED` must then learn how to make an id of that kind for user A, and the
test fails until it does.

404 and not 403: a 403 would confirm that the id exists.
"""

from __future__ import annotations

import json
import time
import uuid
from base64 import urlsafe_b64encode
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.uploads import ready_upload_over_http

pytestmark = pytest.mark.fuzz

DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
REQUEST = {"prompt": "a private lighthouse", "width": 64, "height": 64, "num_images": 1}
METHODS = {"get", "put", "post", "patch", "delete"}


def id_taking_operations() -> list[tuple[str, str, list[str]]]:
    found = []
    for path, item in DOCUMENT["paths"].items():
        shared = [p for p in item.get("parameters", []) if p.get("in") == "path"]
        for method, operation in item.items():
            if method not in METHODS or operation.get("security") == []:
                continue  # a public route (the API docs' assets) names nothing a user owns
            params = shared + [p for p in operation.get("parameters", []) if p.get("in") == "path"]
            if params:
                found.append((method.upper(), path, sorted(p["name"] for p in params)))
    return found


OPERATIONS = id_taking_operations()


@pytest.fixture(scope="module")
def owner(stack, api_module):
    """User A with one finished job; its job id and Leonardo generation id."""
    name = f"owner-{uuid.uuid4().hex[:8]}"
    headers = {"authorization": f"Bearer {stack.token(name)}"}
    response = api_module.post("/v1/generations", json=REQUEST, headers=headers)
    assert response.status_code == 202, response.text
    job = response.json()
    for _ in range(150):  # bounded: 30 s
        job = api_module.get(f"/v1/generations/{job['id']}", headers=headers).json()
        if job["status"] in ("COMPLETE", "FAILED"):
            break
        time.sleep(0.2)
    assert job["status"] == "COMPLETE", job
    table = stack.physical_ids["JobsTable"]
    item = stack.boto3_client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": f"JOB#{job['id']}"}, "sk": {"S": "JOB"}}
    )["Item"]
    upload = ready_upload_over_http(api_module, headers)
    batch = api_module.post(
        "/v1/batches", json={"items": [{"custom_id": "only", **REQUEST}]}, headers=headers
    )
    assert batch.status_code == 202, batch.text
    return {
        "batch": batch.json(),
        "name": name,
        "headers": headers,
        "job": job,
        "generation_id": item["generation_id"]["S"],
        "upload": upload,
    }


@pytest.fixture(scope="module")
def api_module(stack):
    import httpx

    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client


# How to name something user A owns, per path parameter name. New id-taking routes add theirs.
OWNED: dict[str, Callable[[dict], list[str]]] = {
    # The job id, and Leonardo's generation id for the same job (an id B might learn elsewhere).
    "job_id": lambda owner: [owner["job"]["id"], owner["generation_id"]],
    "upload_id": lambda owner: [owner["upload"]["id"]],
    "batch_id": lambda owner: [owner["batch"]["id"]],
    "index": lambda owner: ["0"],  # the first image of the job
}
# A valid body for routes that take one: the id must be what is refused, not the body.
BODIES: dict[str, dict] = {"/v1/generations/{job_id}/images/{index}/variations": {"type": "upscale"}}
# An id of the right shape that never existed, per parameter.
NEVER: dict[str, str] = {"index": "0"}


def test_the_document_has_id_taking_routes():
    assert OPERATIONS, "docs/openapi.json lists no route with a path parameter"


@pytest.mark.parametrize(("method", "path", "params"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_another_users_id_is_not_found(stack, api_module, owner, method, path, params):
    missing = [p for p in params if p not in OWNED]
    assert not missing, f"{method} {path}: teach OWNED how to make user A's {missing} for this route"
    intruder = {"authorization": f"Bearer {stack.token(f'intruder-{uuid.uuid4().hex[:8]}')}"}
    body = {"json": BODIES.get(path, {})} if method in ("POST", "PUT", "PATCH") else {}
    values = {name: OWNED[name](owner) for name in params}
    for index in range(max(len(v) for v in values.values())):
        url = path
        for name, candidates in values.items():
            url = url.replace("{" + name + "}", candidates[min(index, len(candidates) - 1)])
        # The owner can reach it (so the id is real) ...
        if method == "GET" and index == 0:
            assert api_module.request(method, url, headers=owner["headers"]).status_code == 200
        # ... the intruder cannot, and learns nothing: the same 404 as for an id that never existed.
        response = api_module.request(method, url, headers=intruder, **body)
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        assert response.json()["error"]["code"] == "not_found", response.text
        never_url = path
        for name in params:
            never_url = never_url.replace("{" + name + "}", NEVER.get(name, f"x{name}x"))
        never = api_module.request(method, never_url, headers=intruder, **body)
        assert never.status_code == 404 and never.json() == response.json()
        for secret in (owner["job"]["id"], owner["job"]["request"]["prompt"], owner["name"]):
            if secret not in url:
                assert secret not in response.text
    # The owner's own job is untouched by whatever the intruder tried.
    after = api_module.get(f"/v1/generations/{owner['job']['id']}", headers=owner["headers"]).json()
    assert after == owner["job"] | {"images": after["images"]}  # presigned URLs are re-signed per read
    assert [i["leonardo_image_id"] for i in after["images"]] == [
        i["leonardo_image_id"] for i in owner["job"]["images"]
    ]
    upload = api_module.get(f"/v1/uploads/{owner['upload']['id']}", headers=owner["headers"]).json()
    assert upload | {"url": None} == owner["upload"] | {"url": None}


def test_the_owner_reads_its_own_job(api_module, owner):
    response = api_module.get(f"/v1/generations/{owner['job']['id']}", headers=owner["headers"])
    assert response.status_code == 200 and response.json()["id"] == owner["job"]["id"]


def test_another_users_history_and_cursor_reveal_nothing(stack, api_module, owner):
    intruder = {"authorization": f"Bearer {stack.token(f'intruder-{uuid.uuid4().hex[:8]}')}"}
    listing = api_module.get("/v1/generations", headers=intruder, params={"limit": 100})
    assert listing.status_code == 200 and listing.json() == {"items": [], "next_cursor": None}
    # A cursor from A's history (a second job gives A two pages) is refused for B, not followed.
    api_module.post("/v1/generations", json=REQUEST | {"seed": 7}, headers=owner["headers"])
    page = api_module.get("/v1/generations", headers=owner["headers"], params={"limit": 1}).json()
    assert page["next_cursor"]
    stolen = api_module.get("/v1/generations", headers=intruder, params={"cursor": page["next_cursor"]})
    assert stolen.status_code == 400 and stolen.json()["error"]["code"] == "invalid_cursor"
    # So is one forged to name A's partition.
    forged_key = {"pk": "JOB#x", "sk": "JOB", "gsi1pk": f"USER#{owner['name']}", "gsi1sk": "9999"}
    forged = urlsafe_b64encode(json.dumps(forged_key).encode()).decode().rstrip("=")
    answer = api_module.get("/v1/generations", headers=intruder, params={"cursor": forged})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_cursor"
    assert owner["job"]["id"] not in answer.text + stolen.text + listing.text
