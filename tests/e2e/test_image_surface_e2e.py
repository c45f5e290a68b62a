"""The creative loop on the whole local stack, over HTTP only, as a product would drive it: upload
a real PNG, generate from it, download the result; upscale it, edit it, inpaint it with a mask;
delete what is no longer wanted; cancel what has not started. Lineage leads back to the file."""

from __future__ import annotations

import io
import time
import uuid

import httpx
import pytest
from PIL import Image, ImageDraw

from leonardo_simulator import FaultConfig
from tests.support.jobs import wait_for_status
from tests.support.uploads import png_bytes, post_form, ready_upload_over_http

pytestmark = pytest.mark.e2e


@pytest.fixture
def headers(token_for) -> dict[str, str]:
    return {"authorization": f"Bearer {token_for(f'user-{uuid.uuid4().hex[:8]}')}"}


@pytest.fixture(autouse=True)
def clean_faults(stack):
    stack.simulator.set_faults(FaultConfig())
    yield
    stack.simulator.set_faults(FaultConfig())


def accepted(response: httpx.Response) -> dict:
    assert response.status_code == 202, response.text
    return response.json()


def downloaded(image: dict) -> Image.Image:
    return Image.open(io.BytesIO(httpx.get(image["url"], timeout=30).content))


def mask_upload(api, headers, size=(128, 96)) -> dict:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle((32, 24, 95, 71), fill=255)
    content = io.BytesIO()
    mask.save(content, format="PNG")
    created = api.post("/v1/uploads", json={"content_type": "image/png", "purpose": "mask"}, headers=headers)
    assert created.status_code == 201, created.text
    assert post_form(created.json()["upload"], content.getvalue()).status_code < 300
    done = api.post(f"/v1/uploads/{created.json()['id']}/complete", headers=headers)
    assert done.status_code == 200, done.text
    return done.json()


def test_upload_generate_upscale_edit_inpaint_then_delete(api, stack, headers):
    upload = ready_upload_over_http(api, headers, png_bytes((128, 96), (12, 200, 99)))
    body = {"prompt": "A lighthouse on a cliff at dawn", "width": 256, "height": 192, "num_images": 1,
            "source": {"upload_id": upload["id"]}, "init_strength": 0.4}  # fmt: skip
    first = wait_for_status(
        api, headers, accepted(api.post("/v1/generations", json=body, headers=headers))["id"]
    )
    assert first["status"] == "COMPLETE" and first["source"] == {"upload_id": upload["id"]}
    assert downloaded(first["images"][0]).size == (256, 192)

    # Upscale the result: a job of its own, finished by the reconciler's polls (no webhook).
    path = f"/v1/generations/{first['id']}/images/0/variations"
    upscale = accepted(api.post(path, json={"type": "upscale"}, headers=headers))
    upscale = wait_for_status(api, headers, upscale["id"])
    assert upscale["status"] == "COMPLETE" and upscale["kind"] == "upscale"
    assert upscale["source"] == {"job_id": first["id"], "index": 0}
    assert downloaded(upscale["images"][0]).size == (512, 384)

    # Edit it: a generation guided by Leonardo's copy of our image.
    edit_body = {"prompt": "the same lighthouse in a storm", "width": 256, "height": 192, "num_images": 1,
                 "source": {"job_id": first["id"], "index": 0}, "init_strength": 0.35}  # fmt: skip
    edit = wait_for_status(
        api, headers, accepted(api.post("/v1/generations", json=edit_body, headers=headers))["id"]
    )
    assert edit["status"] == "COMPLETE" and edit["kind"] == "edit"

    # Inpaint the uploaded file with a mask of the same size.
    mask = mask_upload(api, headers)
    pair = {"upload_id": upload["id"], "mask_upload_id": mask["id"]}
    canvas = {"prompt": "a red door", "width": 256, "height": 192, "num_images": 1,
              "canvas": {"mode": "inpaint"}, "source": pair}  # fmt: skip
    inpaint = wait_for_status(
        api, headers, accepted(api.post("/v1/generations", json=canvas, headers=headers))["id"]
    )
    assert inpaint["status"] == "COMPLETE" and inpaint["kind"] == "inpaint"
    assert inpaint["source"] == pair

    # Delete the first result: its file is gone, its record (and what came of it) stays.
    url = first["images"][0]["url"]
    deleted = api.delete(f"/v1/generations/{first['id']}", headers=headers)
    assert (
        deleted.status_code == 200
        and deleted.json()["status"] == "DELETED"
        and deleted.json()["images"] == []
    )
    assert httpx.get(url, timeout=30).status_code == 404
    assert (
        api.get(f"/v1/generations/{upscale['id']}", headers=headers).json()["source"]["job_id"] == first["id"]
    )
    again = api.post(path, json={"type": "upscale"}, headers=headers)
    assert again.status_code == 422 and again.json()["error"]["code"] == "source_not_usable"


def test_a_job_that_has_not_started_is_cancelled_and_never_paid(api, stack, headers):
    # Leonardo answers every create with a 429: the job waits here, with no POST in flight.
    stack.simulator.set_faults(FaultConfig(seed=5, http_429_rate=1.0))
    before = len(stack.simulator.generation_log())
    job = accepted(api.post("/v1/generations", json={"prompt": "never", "width": 256, "height": 256},
                            headers=headers))  # fmt: skip
    deadline, answer = time.monotonic() + 20, None
    while time.monotonic() < deadline:  # a submitter may hold the job for a moment: then 409, try again
        answer = api.post(f"/v1/generations/{job['id']}/cancel", headers=headers)
        if answer.status_code == 200:
            break
        assert answer.json()["error"]["code"] == "not_cancellable"
        time.sleep(0.2)
    assert answer is not None and answer.status_code == 200 and answer.json()["status"] == "CANCELLED"
    stack.simulator.set_faults(FaultConfig())
    time.sleep(2)  # its submit messages come back and find it CANCELLED
    assert api.get(f"/v1/generations/{job['id']}", headers=headers).json()["status"] == "CANCELLED"
    assert len(stack.simulator.generation_log()) == before
