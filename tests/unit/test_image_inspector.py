"""The upload inspector: the type from the bytes, the size from the header, a decode only after."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageFile

from gencore.adapters.images import PillowInspector, sniff
from gencore.domain.errors import UploadRejected

pytestmark = pytest.mark.unit
MAX = 4096 * 4096


def _encode(fmt: str, size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(buffer, format=fmt)
    return buffer.getvalue()


def _png_header_claiming(width: int, height: int) -> bytes:
    png = bytearray(_encode("PNG", (1, 1)))
    png[16:24] = struct.pack(">II", width, height)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])) & 0xFFFFFFFF)
    return bytes(png)


@pytest.mark.parametrize(
    ("fmt", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_a_real_image_of_the_declared_type_passes_with_its_size(fmt, content_type):
    facts = PillowInspector().inspect(_encode(fmt), declared=content_type, max_pixels=MAX)
    assert (facts.content_type, facts.width, facts.height) == (content_type, 64, 48)


@pytest.mark.parametrize(
    ("data", "declared", "code"),
    [
        (_encode("JPEG"), "image/png", "upload_type_mismatch"),
        (b"GIF89a" + b"\x00" * 40, "image/png", "upload_not_an_image"),
        (b"", "image/png", "upload_not_an_image"),
        (_encode("PNG")[:40], "image/png", "upload_corrupt"),
        (_png_header_claiming(100_000, 100_000), "image/png", "upload_too_many_pixels"),
        (_png_header_claiming(4097, 4096), "image/png", "upload_too_many_pixels"),
        (_encode("PNG", (16, 64)), "image/png", "upload_too_small"),
    ],
)
def test_anything_else_is_refused_with_a_stable_code(data, declared, code):
    with pytest.raises(UploadRejected) as refused:
        PillowInspector().inspect(data, declared=declared, max_pixels=MAX)
    assert refused.value.code == code


def test_the_pixel_limit_is_checked_before_decoding(monkeypatch):
    bomb = _png_header_claiming(5000, 5000)
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size))
    with pytest.raises(UploadRejected):
        PillowInspector().inspect(bomb, declared="image/png", max_pixels=MAX)
    assert decoded == []


def test_sniff_knows_only_the_three_types():
    assert [sniff(_encode(f)) for f in ("PNG", "JPEG", "WEBP", "GIF", "BMP")] == [
        "image/png", "image/jpeg", "image/webp", None, None,
    ]  # fmt: skip
