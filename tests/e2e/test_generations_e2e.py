"""The whole system on loopback, driven only over HTTP as an app would drive it."""

from __future__ import annotations

import io
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image

from leonardo_simulator import FaultConfig
from tests.support.jobs import wait_for_status
from tests.support.uploads import png_bytes, ready_upload_over_http

pytestmark = pytest.mark.e2e
REQUEST = {"prompt": "A lighthouse on a cliff at dawn", "width": 320, "height": 256, "num_images": 2}


@pytest.fixture
def user(token_for):
    """A fresh user per test, with an authorization header for it."""
    name = f"user-{uuid.uuid4().hex[:8]}"
    return name, {"authorization": f"Bearer {token_for(name)}"}


@pytest.fixture(autouse=True)
def clean_faults(stack):
    stack.simulator.set_faults(FaultConfig())
    yield
    stack.simulator.set_faults(FaultConfig())


def create(api, headers, **overrides) -> dict:
    response = api.post("/v1/generations", json=REQUEST | overrides, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


def outputs_of(stack, user_name: str, job_id: str) -> list[str]:
    s3 = stack.boto3_client("s3")
    bucket = stack.physical_ids["OutputBucket"]
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"outputs/{user_name}/{job_id}/")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def assert_complete_with_pngs(job: dict) -> None:
    assert job["status"] == "COMPLETE", job
    assert len(job["images"]) == REQUEST["num_images"]
    for image in job["images"]:
        body = httpx.get(image["url"]).content  # a presigned GET on local S3
        assert Image.open(io.BytesIO(body)).size == (REQUEST["width"], REQUEST["height"])
        assert image["leonardo_image_id"]


def test_health_is_open(api):
    assert api.get("/health").json() == {"status": "ok"}


def test_text_to_image_completes_with_downloadable_pngs(api, stack, user):
    name, headers = user
    job = wait_for_status(api, headers, create(api, headers)["id"])
    assert_complete_with_pngs(job)
    assert job["cost"]["unit"] == "CREDITS" and float(job["cost"]["amount"]) > 0
    assert len(outputs_of(stack, name, job["id"])) == 2


def test_image_to_image_from_an_upload_over_http(api, stack, user):
    """Upload (presigned POST straight to the bucket), complete, generate from it, download."""
    name, headers = user
    source = png_bytes((128, 96), (12, 200, 99))
    upload = ready = ready_upload_over_http(api, headers, source)
    assert (ready["status"], ready["width"], ready["height"]) == ("READY", 128, 96)

    job = create(api, headers, init_upload_id=upload["id"], init_strength=0.3)
    assert job["kind"] == "image_to_image"
    job = wait_for_status(api, headers, job["id"])
    assert_complete_with_pngs(job)
    assert job["source"] == {"upload_id": upload["id"]}  # lineage: output -> job -> upload
    generation = next(g for g in stack.simulator.generations.values() if g.prompt == REQUEST["prompt"]
                      and g.init_image_id)  # fmt: skip
    assert stack.simulator.init_images[generation.init_image_id].content == source
    assert len(outputs_of(stack, name, job["id"])) == 2

    # Deleting the upload takes Leonardo's copy too; the job's outputs stay.
    deleted = api.delete(f"/v1/uploads/{upload['id']}", headers=headers)
    assert deleted.status_code == 200 and deleted.json()["status"] == "DELETED"
    assert generation.init_image_id not in stack.simulator.init_images
    assert len(outputs_of(stack, name, job["id"])) == 2


def test_duplicate_callbacks_give_one_copy_per_image(api, stack, user):
    name, headers = user
    stack.simulator.set_faults(FaultConfig(seed=11, duplicate_callback_rate=1.0))
    job = wait_for_status(api, headers, create(api, headers)["id"])
    assert_complete_with_pngs(job)
    assert outputs_of(stack, name, job["id"]) == [
        f"outputs/{name}/{job['id']}/0.png",
        f"outputs/{name}/{job['id']}/1.png",
    ]


def test_dropped_callbacks_are_recovered_by_the_reconciler(api, stack, user):
    _, headers = user
    before = stack.simulator.stats()["callbacks_dropped"]
    stack.simulator.set_faults(FaultConfig(seed=12, drop_callback_rate=1.0))
    job = wait_for_status(api, headers, create(api, headers)["id"])
    assert_complete_with_pngs(job)
    assert stack.simulator.stats()["callbacks_dropped"] > before


def test_delayed_and_reordered_callbacks_still_complete_every_job(api, stack, user):
    _, headers = user
    stack.simulator.set_faults(FaultConfig(seed=13, delay_callback_rate=0.5, delay_callback_seconds=1.5))
    ids = [create(api, headers, seed=i)["id"] for i in range(4)]
    for job_id in ids:
        assert_complete_with_pngs(wait_for_status(api, headers, job_id))


def test_a_429_storm_still_ends_complete_with_one_generation_per_job(api, stack, user):
    _, headers = user
    created_before = stack.simulator.stats()["generations_created"]
    stack.simulator.set_faults(FaultConfig(seed=14, http_429_rate=0.6))
    ids = [create(api, headers, seed=100 + i)["id"] for i in range(4)]
    time.sleep(2)
    stack.simulator.set_faults(FaultConfig(seed=14, http_429_rate=0.2))
    for job_id in ids:
        assert_complete_with_pngs(wait_for_status(api, headers, job_id, timeout=90))
    assert stack.simulator.stats()["generations_created"] - created_before == len(ids)


def test_a_consumer_that_crashes_on_first_receive_loses_nothing(api, stack, user):
    name, headers = user
    stack.fail_invocations("ProcessorFunction", 1)
    job = wait_for_status(api, headers, create(api, headers)["id"])
    assert_complete_with_pngs(job)
    assert len(outputs_of(stack, name, job["id"])) == 2


def test_double_click_returns_the_same_job(api, user):
    _, headers = user
    first = create(api, headers, seed=5)
    again = api.post("/v1/generations", json=REQUEST | {"seed": 5}, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first["id"]


def test_history_is_paginated_newest_first(api, user):
    _, headers = user
    ids = [create(api, headers, prompt=f"history {i}")["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get("/v1/generations", params=params, headers=headers).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))


def test_another_users_job_is_not_found(api, user, token_for):
    _, headers = user
    job = create(api, headers)
    other = {"authorization": f"Bearer {token_for('mallory')}"}
    response = api.get(f"/v1/generations/{job['id']}", headers=other)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def _foreign_token(stack, **claims) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    payload = {"iss": stack.api_url, "sub": "eve", "aud": "leonardo-backend", "iat": now, "exp": now + 600}
    return jwt.encode(payload | claims, key, algorithm="RS256")


@pytest.mark.parametrize("case", ["missing", "bad signature", "wrong audience", "expired", "wrong issuer"])
def test_jwt_rejections(api, stack, token_for, case):
    tokens = {
        "missing": None,
        "bad signature": _foreign_token(stack),
        "wrong audience": token_for("eve", aud="someone-else"),
        "expired": token_for("eve", exp=int(time.time()) - 60),
        "wrong issuer": token_for("eve", iss="https://evil.example.com/"),
    }
    token = tokens[case]
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = api.post("/v1/generations", json=REQUEST, headers=headers)
    assert response.status_code == 401


def test_webhook_rejects_a_wrong_token_over_http(api):
    response = api.post("/webhooks/leonardo", json={"type": "x"}, headers={"authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_validation_errors_have_stable_codes(api, user):
    _, headers = user
    response = api.post("/v1/generations", json={"prompt": "x", "width": 7}, headers=headers)
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"
    response = api.post(
        "/v1/generations", content=b"{oops", headers=headers | {"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"
