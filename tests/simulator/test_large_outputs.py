"""Large CDN files (`output_bytes`, `output_type`): the declared size exactly, a real header, the same
bytes for the same generation, and a knob that refuses nonsense."""

from __future__ import annotations

import hashlib
import io
import struct

import httpx
import pytest
from PIL import Image

from leonardo_simulator import SimulatorConfig
from leonardo_simulator.largefiles import MAX_OUTPUT_BYTES

from .helpers import client, create, wait_done

pytestmark = pytest.mark.integration

SIZE = 3 * 1024 * 1024 + 17  # not a multiple of the filler block


def fetch(url: str) -> httpx.Response:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    return response


def generated_url(sim, **body) -> str:
    with client(sim) as c:
        generation = wait_done(c, create(c, **body))
    assert generation["status"] == "COMPLETE"
    return generation["generated_images"][0]["url"]


@pytest.mark.parametrize(
    "overrides",
    [{"output_bytes": -1}, {"output_bytes": MAX_OUTPUT_BYTES + 1}, {"output_type": "image/gif"}],
)
def test_the_knob_refuses_nonsense(overrides):
    with pytest.raises(ValueError):
        SimulatorConfig(**overrides)


def test_the_knob_is_read_from_the_environment():
    config = SimulatorConfig.from_env(
        {"LEONARDO_SIM_OUTPUT_BYTES": "524288000", "LEONARDO_SIM_OUTPUT_TYPE": "video/mp4"}
    )
    assert (config.output_bytes, config.output_type) == (524_288_000, "video/mp4")


def test_by_default_the_cdn_serves_the_plain_png(sim):
    url = generated_url(sim)
    response = fetch(url)
    assert url.endswith(".png") and response.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size == (64, 64)


def test_a_large_png_has_the_declared_size_and_still_decodes(start_sim):
    sim = start_sim(output_bytes=SIZE)
    response = fetch(generated_url(sim, width=64, height=48))
    assert response.headers["content-type"] == "image/png"
    assert int(response.headers["content-length"]) == len(response.content) == SIZE
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    Image.open(io.BytesIO(response.content)).verify()  # every chunk's CRC, the filler's included
    assert Image.open(io.BytesIO(response.content)).size == (64, 48)


def test_a_large_mp4_has_the_declared_size_and_an_mp4_header(start_sim):
    sim = start_sim(output_bytes=SIZE, output_type="video/mp4")
    url = generated_url(sim)
    response = fetch(url)
    assert url.endswith(".mp4") and response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(response.content) == SIZE
    content = response.content
    ftyp_size, kind = struct.unpack(">I4s", content[:8])
    assert kind == b"ftyp"
    free_size, free = struct.unpack(">I4s", content[ftyp_size : ftyp_size + 8])
    assert free == b"free" and ftyp_size + free_size == SIZE  # the boxes cover the file exactly


def test_the_bytes_are_the_same_for_the_same_generation_and_differ_between_generations(start_sim):
    sim = start_sim(output_bytes=SIZE, output_type="video/mp4")
    first = generated_url(sim, seed=1)
    digest = hashlib.sha256(fetch(first).content).hexdigest()
    assert hashlib.sha256(fetch(first).content).hexdigest() == digest
    other = hashlib.sha256(fetch(generated_url(sim, seed=2)).content).hexdigest()
    assert other != digest


def test_the_other_extension_is_not_served(start_sim):
    sim = start_sim(output_bytes=SIZE, output_type="video/mp4")
    url = generated_url(sim)
    assert httpx.get(url.removesuffix(".mp4") + ".png", timeout=10).status_code == 404
