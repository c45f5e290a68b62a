"""Large generated files for the CDN (`output_bytes`): a real header, then filler, made while streaming.

A video or an upscale is hundreds of megabytes; the backend must copy such a file into S3 without
holding it in memory, and so must the simulator serve it. A large file here is a `Body`: its exact
size (sent as Content-Length) and a function giving its bytes block by block. The filler is one
pseudo-random block seeded from the picture's key, repeated: the same request always gives the same
bytes, whatever the size, and at most one block is ever held.

- `image/png`: the generation's real PNG (right size in IHDR, decodable) with a private ancillary
  chunk `fiLl` of filler before IEND, which decoders skip; its CRC is computed as the bytes go out.
- `video/mp4`: an ISO BMFF `ftyp` box, then a `free` box of filler. Type sniffers and the backend's
  magic-bytes check see an MP4; it is not playable (there is no `moov`).
- a video generation's clip (`padded_mp4`): the real, playable MP4 (mp4.py), then a `free` box of
  filler, which readers skip: still playable, and exactly `size` bytes.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

BLOCK_BYTES = 1 << 20
MAX_OUTPUT_BYTES = 1 << 31  # one PNG chunk or one 32-bit box holds the filler
OUTPUT_TYPES = {"image/png": "png", "video/mp4": "mp4"}  # output_type -> URL extension

FILL_CHUNK = b"fiLl"  # ancillary (f), private (i), reserved bit clear (L), safe to copy (l)
PNG_END = b"\x00\x00\x00\x00IEND\xae\x42\x60\x82"
MP4_FTYP = struct.pack(">I4s4sI", 28, b"ftyp", b"isom", 0x200) + b"isomiso2mp41"
BOX_HEADER = 8


@dataclass(frozen=True)
class Body:
    size: int
    blocks: Callable[[], Iterator[bytes]]  # a fresh iteration over the bytes, block by block


def padded_png(png: bytes, size: int, key: bytes) -> Body:
    """`png` grown to `size` bytes by a `fiLl` chunk before IEND (as is when there is no room for one)."""
    if not png.endswith(PNG_END):
        raise ValueError("not a PNG ending with IEND")
    filler = size - len(png) - 12  # length, type and CRC around the data
    if filler < 0:
        return Body(len(png), lambda: iter((png,)))

    def blocks() -> Iterator[bytes]:
        yield png[: -len(PNG_END)] + struct.pack(">I", filler) + FILL_CHUNK
        crc = zlib.crc32(FILL_CHUNK)
        for block in _filler(key, filler):
            crc = zlib.crc32(block, crc)
            yield block
        yield struct.pack(">I", crc) + PNG_END

    return Body(size, blocks)


def mp4(size: int, key: bytes) -> Body:
    """An `ftyp` box and a `free` box of filler, `size` bytes in all (at least the two headers)."""
    size = max(size, len(MP4_FTYP) + BOX_HEADER)
    filler = size - len(MP4_FTYP) - BOX_HEADER

    def blocks() -> Iterator[bytes]:
        yield MP4_FTYP + struct.pack(">I4s", BOX_HEADER + filler, b"free")
        yield from _filler(key, filler)

    return Body(size, blocks)


def padded_mp4(clip: bytes, size: int, key: bytes) -> Body:
    """`clip` (a whole MP4) grown to `size` bytes by a trailing `free` box (as is when there is no room)."""
    filler = size - len(clip) - BOX_HEADER
    if filler < 0:
        return Body(len(clip), lambda: iter((clip,)))

    def blocks() -> Iterator[bytes]:
        yield clip + struct.pack(">I4s", BOX_HEADER + filler, b"free")
        yield from _filler(key, filler)

    return Body(size, blocks)


def _filler(key: bytes, size: int) -> Iterator[bytes]:
    block = random.Random(key).randbytes(min(size, BLOCK_BYTES))
    full, rest = divmod(size, len(block)) if block else (0, 0)
    for _ in range(full):
        yield block
    if rest:
        yield block[:rest]
