"""The realtime canvas on the whole local stack, over HTTP: generate from a sketch, refine the
picture and keep it, then a job starts from the kept picture and its result is downloaded."""

from __future__ import annotations

import base64
import io
import uuid

import httpx
import pytest
from PIL import Image

from tests.support.jobs import wait_for_status

pytestmark = pytest.mark.e2e


def sketch() -> str:
    data = io.BytesIO()
    Image.new("RGB", (128, 128), (30, 90, 200)).save(data, format="JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(data.getvalue()).decode()


def test_generate_refine_keep_then_a_job_from_the_kept_picture(api, token_for):
    headers = {"authorization": f"Bearer {token_for(f'canvas-{uuid.uuid4().hex[:8]}')}"}
    drawn = api.post(
        "/v1/realtime/generate", json={"image": sketch(), "prompt": "a blue bird"}, headers=headers
    )
    assert drawn.status_code == 200, drawn.text
    (picture,) = drawn.json()["pictures"]
    refined = api.post(
        "/v1/realtime/refine", json={"image": picture, "prompt": "a blue bird", "keep": True}, headers=headers
    )
    assert refined.status_code == 200, refined.text
    (kept,) = refined.json()["kept"]
    body = {
        "prompt": "the bird at dusk",
        "width": 512,
        "height": 512,
        "source": {"upload_id": kept["upload_id"]},
    }
    created = api.post("/v1/generations", json=body, headers=headers)
    assert created.status_code == 202, created.text
    job = wait_for_status(api, headers, created.json()["id"], {"COMPLETE"}, timeout=60)
    assert job["source"] == {"upload_id": kept["upload_id"]}
    image = Image.open(io.BytesIO(httpx.get(job["images"][0]["url"], timeout=30).content))
    assert image.size == (512, 512)


def test_a_kept_picture_is_upscaled_by_the_universal_upscaler(api, token_for):
    headers = {"authorization": f"Bearer {token_for(f'canvas-{uuid.uuid4().hex[:8]}')}"}
    drawn = api.post(
        "/v1/realtime/generate",
        json={"image": sketch(), "prompt": "a blue bird", "keep": True},
        headers=headers,
    )
    assert drawn.status_code == 200, drawn.text
    (kept,) = drawn.json()["kept"]
    upscale = api.post(
        f"/v1/uploads/{kept['upload_id']}/upscale", json={"creativity_strength": 4}, headers=headers
    )
    assert upscale.status_code == 202, upscale.text
    job = wait_for_status(api, headers, upscale.json()["id"], {"COMPLETE"}, timeout=120)
    assert job["kind"] == "universal_upscale" and job["source"] == {"upload_id": kept["upload_id"]}
    assert httpx.get(job["images"][0]["url"], timeout=30).status_code == 200
