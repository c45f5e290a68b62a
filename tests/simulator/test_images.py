"""The fake CDN: real, deterministic PNGs, no auth, optionally slow."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from PIL import Image

from .helpers import client, create, wait_done

pytestmark = pytest.mark.integration


def image_urls(sim, **body) -> list[str]:
    with client(sim) as c:
        generation = wait_done(c, create(c, **body))
    return [image["url"] for image in generation["generated_images"]]


def test_images_are_pngs_of_the_requested_size(sim):
    urls = image_urls(sim, width=320, height=200, num_images=2)
    blobs = []
    for url in urls:
        response = httpx.get(url)  # no authorization header: the CDN is public
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        assert int(response.headers["content-length"]) == len(response.content)
        with Image.open(io.BytesIO(response.content)) as image:
            assert image.format == "PNG"
            assert image.size == (320, 200)
            image.load()
        blobs.append(response.content)
    assert blobs[0] != blobs[1]  # each index is its own picture


def test_same_request_gives_identical_bytes(start_sim):
    body = {"prompt": "a lighthouse", "seed": 1234, "width": 128, "height": 96, "num_images": 2}
    first = [httpx.get(u).content for u in image_urls(start_sim(), **body)]
    second = [httpx.get(u).content for u in image_urls(start_sim(), **body)]
    assert first == second
    other_seed = [httpx.get(u).content for u in image_urls(start_sim(), **{**body, "seed": 1235})]
    assert other_seed != first


def test_seedless_requests_are_deterministic_too(start_sim):
    body = {"prompt": "a lighthouse", "width": 64, "height": 64}
    assert (
        httpx.get(image_urls(start_sim(), **body)[0]).content
        == httpx.get(image_urls(start_sim(), **body)[0]).content
    )


def test_slow_cdn_streams_in_chunks(start_sim):
    delay = 0.4
    sim = start_sim()
    url = image_urls(sim, width=256, height=256)[0]
    fast = httpx.get(url).content
    httpx.post(f"{sim.origin}/_admin/faults", json={"cdn_delay_seconds": delay}).raise_for_status()
    started = time.monotonic()
    with httpx.stream("GET", url) as response:
        assert int(response.headers["content-length"]) == len(fast)
        chunks = list(response.iter_raw())
    elapsed = time.monotonic() - started
    assert b"".join(chunks) == fast
    assert len(chunks) > 1
    assert elapsed >= delay * 0.75  # a lower bound only: the body was really held back
    assert sim.stats()["cdn_downloads"] == 2
