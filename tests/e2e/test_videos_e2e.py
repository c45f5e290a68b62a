"""Video on the whole local stack, over HTTP only: a clip from text, and a clip from one of our own
images; each downloaded from its presigned link and read as an MP4 (its ftyp box, its duration)."""

from __future__ import annotations

import struct
import uuid

import httpx
import pytest

from tests.support.jobs import wait_for_status

pytestmark = pytest.mark.e2e


@pytest.fixture
def headers(token_for) -> dict[str, str]:
    return {"authorization": f"Bearer {token_for(f'video-{uuid.uuid4().hex[:8]}')}"}


def mp4_seconds(data: bytes) -> float:
    """The movie's length from its mvhd box, after checking the file starts with an ftyp box."""
    assert data[4:8] == b"ftyp", data[:16]
    at = 0
    while at < len(data):
        size, kind = struct.unpack_from(">I4s", data, at)
        if kind == b"moov":
            inner = at + 8
            while inner < at + size:
                child, child_kind = struct.unpack_from(">I4s", data, inner)
                if child_kind == b"mvhd":
                    timescale, duration = struct.unpack_from(">II", data, inner + 8 + 4 + 8)
                    return duration / timescale
                inner += child
        at += size
    raise AssertionError("no moov/mvhd box")


def clip(job: dict) -> bytes:
    (output,) = job["images"]
    assert output["content_type"] == "video/mp4"
    data = httpx.get(output["url"], timeout=30).content
    assert len(data) == output["size"]
    return data


def test_a_clip_from_text_and_a_clip_from_one_of_our_images(api, stack, headers):
    text = api.post("/v1/videos", json={"mode": "text_to_video", "prompt": "waves at dusk"}, headers=headers)
    assert text.status_code == 202, text.text
    done = wait_for_status(api, headers, text.json()["id"], {"COMPLETE"}, timeout=60)
    assert done["kind"] == "text_to_video" and mp4_seconds(clip(done)) > 0

    image = api.post(
        "/v1/generations", json={"prompt": "a lighthouse", "width": 256, "height": 192, "num_images": 1},
        headers=headers,
    )  # fmt: skip
    assert image.status_code == 202, image.text
    image_job = wait_for_status(api, headers, image.json()["id"], {"COMPLETE"}, timeout=60)
    source = {"job_id": image_job["id"], "index": 0}
    moving = api.post("/v1/videos", json={"mode": "image_to_video", "prompt": "slowly", "source": source},
                      headers=headers)  # fmt: skip
    assert moving.status_code == 202, moving.text
    done = wait_for_status(api, headers, moving.json()["id"], {"COMPLETE"}, timeout=60)
    assert done["source"] == source and mp4_seconds(clip(done)) > 0
