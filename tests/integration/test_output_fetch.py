"""Output fetching: only allow-listed origins, no redirects, real content types, bounded size."""

from __future__ import annotations

import io
import struct
import zlib

import boto3
import pytest
from moto import mock_aws

from gencore.adapters.outputs import OutputFetcher, S3OutputStore, origin_of, parse_origins, png_size
from gencore.domain.errors import OutputRejected, OutputUnavailable
from tests.support.scripted import Answer, Script, serve_script

pytestmark = pytest.mark.integration


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def cdn():
    script = Script()
    with serve_script(script) as origin:
        yield script, origin


@pytest.fixture
def store(cdn):
    script, origin = cdn
    script.reset()
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out")
        fetcher = OutputFetcher(parse_origins(origin), image_max_bytes=64 * 1024, video_max_bytes=128 * 1024)
        yield script, origin, s3, S3OutputStore(s3, "out", fetcher)


def test_copies_a_png_with_its_size_and_source(store):
    script, origin, s3, outputs = store
    script.add(Answer(body=tiny_png(), headers={"content-type": "image/png"}))
    image = outputs.copy(f"{origin}/cdn/a.png", "outputs/u/j", index=0, source_id="img-1")
    assert (image.key, image.width, image.height) == ("outputs/u/j/0.png", 3, 2)
    assert s3.get_object(Bucket="out", Key=image.key)["Body"].read() == tiny_png()
    assert outputs.existing("outputs/u/j", index=0, source_id="img-1") == image
    assert outputs.existing("outputs/u/j", index=0, source_id="other") is None


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/x.png",
        "https://evil.example.com/x.png",
        "file:///etc/passwd",
        "http://user:pass@127.0.0.1/x.png",
        "not a url",
    ],
)
def test_urls_off_the_allow_list_are_never_fetched(store, url):
    script, _, _, outputs = store
    with pytest.raises(OutputRejected) as raised:
        outputs.copy(url, "outputs/u/j", index=0, source_id="img")
    assert raised.value.code == "output_host_not_allowed"
    assert script.received == []


def test_redirects_are_not_followed(store):
    script, origin, _, outputs = store
    script.add(Answer(status=302, headers={"location": "http://169.254.169.254/"}))
    with pytest.raises(OutputRejected) as raised:
        outputs.copy(f"{origin}/cdn/a.png", "outputs/u/j", index=0, source_id="img")
    assert raised.value.code == "output_redirect"
    assert len(script.received) == 1


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (Answer(body="<html>", headers={"content-type": "text/html"}), "output_type_not_allowed"),
        (
            Answer(body=b"GIF89a" + b"\x00" * 40, headers={"content-type": "image/png"}),
            "output_type_mismatch",
        ),
        (
            Answer(body=tiny_png() + b"\x00" * 70_000, headers={"content-type": "image/png"}),
            "output_too_large",
        ),
        (Answer(status=403, body="denied"), "output_fetch_refused"),
    ],
)
def test_unacceptable_outputs_are_rejected(store, answer, code):
    script, origin, s3, outputs = store
    script.add(answer)
    with pytest.raises(OutputRejected) as raised:
        outputs.copy(f"{origin}/cdn/a.png", "outputs/u/j", index=0, source_id="img")
    assert raised.value.code == code
    assert "Contents" not in s3.list_objects_v2(Bucket="out")


@pytest.mark.parametrize("status", [404, 429, 500, 503])
def test_transient_cdn_errors_are_retryable(store, status):
    script, origin, _, outputs = store
    script.add(Answer(status=status, body="x"))
    with pytest.raises(OutputUnavailable):
        outputs.copy(f"{origin}/cdn/a.png", "outputs/u/j", index=0, source_id="img")


def test_origin_normalisation():
    assert origin_of("HTTPS://CDN.Leonardo.ai:443/a.png") == "https://cdn.leonardo.ai"
    assert origin_of("http://127.0.0.1:8090/cdn/x") == "http://127.0.0.1:8090"
    assert origin_of("ftp://x/y") is None
    with pytest.raises(ValueError):
        parse_origins("cdn.leonardo.ai")


def test_png_size_reads_only_the_header():
    assert png_size(tiny_png(640, 480)[:24]) == (640, 480)
    assert png_size(b"\xff\xd8\xff" + b"\x00" * 30) is None
    assert io.BytesIO(tiny_png()).read(8) == b"\x89PNG\r\n\x1a\n"
