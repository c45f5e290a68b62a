"""Deterministic placeholder images: real PNGs of the requested size.

The picture is a function of (prompt, seed, index, width, height) and, for
image-to-image, of the init image's bytes and strength only, so the same
request always yields byte-identical files, an output can be traced to its
input, and different images of one generation differ visibly (useful when
eyeballing a gallery).
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache

from PIL import Image, ImageDraw


def image_key(prompt: str, seed: int, index: int, init: str = "") -> bytes:
    """`init` fingerprints the init image (see GenerationRecord.init_fingerprint);
    empty for text-to-image, which keeps those pictures what they always were."""
    text = f"{seed}\x00{index}\x00{prompt}" + (f"\x00{init}" if init else "")
    return hashlib.sha256(text.encode()).digest()


@lru_cache(maxsize=32)  # clients often fetch each image more than once; rendering 1536^2 is not free
def render_png(prompt: str, seed: int, index: int, width: int, height: int, init: str = "") -> bytes:
    digest = image_key(prompt, seed, index, init)
    top = tuple(digest[0:3])
    bottom = tuple(digest[3:6])
    # A vertical gradient between two colours from the digest, resized from a
    # 1-pixel-wide strip (fast at any size).
    strip = Image.new("RGB", (1, 256))
    for y in range(256):
        t = y / 255
        strip.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    image = strip.resize((width, height), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    # A few shapes placed by later digest bytes.
    for i in range(4):
        b = digest[6 + i * 6 : 12 + i * 6]
        x0, y0 = b[0] * width // 256, b[1] * height // 256
        x1, y1 = x0 + max(4, b[2] * width // 512), y0 + max(4, b[3] * height // 512)
        colour = (b[4], b[5], b[0] ^ b[5])
        (draw.ellipse if i % 2 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
