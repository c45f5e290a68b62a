"""Upload abuse over HTTP: wrong types, lying magic bytes, decompression bombs, oversized and broken files.

Each case goes the way a client would: POST /v1/uploads, the presigned form POST to the bucket
(moto), then POST /v1/uploads/{id}/complete. Whatever the file, the outcome is a 422 with a stable
code, the object is gone from the bucket, the upload reads REJECTED, and no generation can use it.
Bombs are refused from their header: the test process (which runs the handlers) must not grow by
anything near what decoding them would take.

S3 enforces the form's policy (Content-Type, content-length-range, key) on AWS; moto does not, so
the oversized and mistyped cases here prove the second line, the check on completion. Where moto
does refuse, the case still passes: nothing was stored.
"""

from __future__ import annotations

import io
import resource
import struct
import zlib

import httpx
import pytest
from PIL import Image

from tests.support.uploads import post_form

pytestmark = pytest.mark.fuzz

UPLOAD_MAX_BYTES = 10 * 1024 * 1024  # the template default, used by the fuzz stack


def _image(fmt: str, size=(64, 64), mode="RGB", **save) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 0 if mode in ("L", "1") else (30, 60, 90)).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose header claims width x height: the classic bomb shape (a few bytes of
    IDAT, a decoder that trusts the header allocates width*height pixels)."""
    png = bytearray(_image("PNG", (1, 1), mode="L"))
    ihdr = bytes(png[12:16]) + struct.pack(">II", width, height) + bytes(png[24:29])
    png[16:24] = struct.pack(">II", width, height)
    png[29:33] = struct.pack(">I", zlib.crc32(ihdr) & 0xFFFFFFFF)
    return bytes(png)


def _jpeg_claiming(width: int, height: int) -> bytes:
    jpeg = bytearray(_image("JPEG", (8, 8)))
    sof = jpeg.index(b"\xff\xc0")  # baseline frame header: length(2) precision(1) height(2) width(2)
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(jpeg)


def _apng() -> bytes:
    frames = [Image.new("RGB", (64, 64), c) for c in ((255, 0, 0), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PNG", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def _zero_filled_png(side: int) -> bytes:
    """A genuine zero-filled greyscale PNG: side*side pixels in a few KiB of deflate."""
    row = b"\x00" + b"\x00" * side
    raw = zlib.compress(row * side, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


PNG = _image("PNG")
JPEG, WEBP = "image/jpeg", "image/webp"
HTML = b"<html><script>alert(1)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"/>'


def case(name: str, content: bytes, code: str, declared: str = "image/png", form: str | None = None):
    """One bad file: its name, bytes, the code it must get, its declared and its form Content-Type."""
    return pytest.param(declared, form or declared, content, code, id=name)


CASES = [
    case("jpeg-bytes-declared-png", _image("JPEG"), "upload_type_mismatch"),
    case("png-bytes-declared-webp", PNG, "upload_type_mismatch", declared=WEBP),
    case("html-named-png", HTML, "upload_not_an_image"),
    case("svg-declared-png", SVG, "upload_not_an_image"),
    case("gif-declared-png", _image("GIF"), "upload_not_an_image"),
    case("pdf-declared-jpeg", b"%PDF-1.7\n" + b"0" * 100, "upload_not_an_image", declared=JPEG),
    case("png-magic-then-garbage", PNG[:8] + b"\x00" * 200, "upload_corrupt"),
    case("truncated-png", PNG[: len(PNG) // 2], "upload_corrupt"),
    case("truncated-jpeg", _image("JPEG", (256, 256))[:300], "upload_corrupt", declared=JPEG),
    case("form-content-type-html", PNG, "upload_content_type_mismatch", form="text/html"),
    case("png-bomb-header-50000", _png_claiming(50_000, 50_000), "upload_too_many_pixels"),
    case("png-bomb-genuine-6000", _zero_filled_png(6000), "upload_too_many_pixels"),
    case("jpeg-bomb-header-65000", _jpeg_claiming(65_000, 65_000), "upload_too_many_pixels", declared=JPEG),
    case("webp-4200", _image("WEBP", (4200, 4200), mode="L"), "upload_too_many_pixels", declared=WEBP),
    case("animated-png", _apng(), "upload_animated"),
    case("tiny-png", _image("PNG", (8, 8)), "upload_too_small"),
    case("empty-file", b"", "upload_empty"),
    case("oversized-png", PNG + b"\x00" * UPLOAD_MAX_BYTES, "upload_too_large"),
]


def _create(api, headers, content_type: str) -> dict:
    response = api.post("/v1/uploads", json={"content_type": content_type}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _object_exists(stack, key: str) -> bool:
    listing = stack.boto3_client("s3").list_objects_v2(Bucket=stack.physical_ids["OutputBucket"], Prefix=key)
    return listing.get("KeyCount", 0) > 0


@pytest.mark.parametrize(("declared", "form_type", "content", "code"), CASES)
def test_a_bad_upload_is_refused_with_a_stable_code_and_leaves_nothing(
    api, stack, user, declared, form_type, content, code
):
    _, headers = user
    upload = _create(api, headers, declared)
    key = upload["upload"]["fields"]["key"]
    stored = post_form(upload["upload"], content, form_type)

    complete = api.post(f"/v1/uploads/{upload['id']}/complete", headers=headers)
    if stored.status_code >= 400:  # the bucket itself refused (S3 policy): nothing to check
        assert complete.status_code == 409 and complete.json()["error"]["code"] == "upload_missing"
    else:
        assert complete.status_code == 422, complete.text
        assert complete.json()["error"]["code"] == code
        # The same answer again; the record says why; the file is gone.
        again = api.post(f"/v1/uploads/{upload['id']}/complete", headers=headers)
        assert again.status_code == 422 and again.json()["error"]["code"] == code
        view = api.get(f"/v1/uploads/{upload['id']}", headers=headers).json()
        assert view["status"] == "REJECTED" and view["error"]["code"] == code and view["url"] is None
    assert not _object_exists(stack, key)
    assert not _object_exists(stack, key.replace("incoming/", "uploads/", 1))

    job = api.post(
        "/v1/generations",
        json={"prompt": "from a bad upload", "init_upload_id": upload["id"]},
        headers=headers,
    )
    assert job.status_code == 422 and job.json()["error"]["code"] == "upload_not_ready"


def test_bombs_are_refused_without_decoding(api, stack, user):
    """Decoding any of these would allocate gigabytes; the process must not grow by even 200 MiB."""
    _, headers = user
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    for content in (
        _png_claiming(60_000, 60_000),
        _png_claiming(2**31 - 1, 2**31 - 1),
        _zero_filled_png(8000),
    ):
        upload = _create(api, headers, "image/png")
        assert post_form(upload["upload"], content, "image/png").status_code < 400
        answer = api.post(f"/v1/uploads/{upload['id']}/complete", headers=headers)
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] in ("upload_too_many_pixels", "upload_corrupt")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown < 200 * 1024, f"max RSS grew by {grown} KiB"


def test_a_good_upload_still_passes_every_check(api, stack, user):
    _, headers = user
    for declared, content in (
        ("image/png", PNG),
        ("image/jpeg", _image("JPEG", (640, 480))),
        ("image/webp", _image("WEBP", (128, 96))),
    ):
        upload = _create(api, headers, declared)
        assert post_form(upload["upload"], content, declared).status_code < 400
        done = api.post(f"/v1/uploads/{upload['id']}/complete", headers=headers)
        assert done.status_code == 200 and done.json()["status"] == "READY", done.text
        assert httpx.get(done.json()["url"]).content == content


def test_an_upload_form_cannot_be_had_for_another_type(api, user):
    _, headers = user
    for body in (
        {"content_type": "image/svg+xml"},
        {"content_type": "application/octet-stream"},
        {"content_type": 1},
    ):
        response = api.post("/v1/uploads", json=body, headers=headers)
        assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"
