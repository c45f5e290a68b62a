"""A minimal MP4 (ISO BMFF) writer: JPEG frames as one Motion-JPEG video track.

No encoder library is needed: Pillow makes the JPEGs, this module lays out the boxes, and any
player that reads MPEG-4 part 14 with JPEG samples (ffmpeg, VLC, browsers that take MJPEG) plays
it. The layout is the "fast start" one: `ftyp`, then `moov` (so a reader knows the track before the
media), then `mdat` holding the frames back to back in one chunk.

    ftyp
    moov
      mvhd                      duration / timescale = the clip's length
      trak
        tkhd                    width, height (16.16 fixed point)
        mdia
          mdhd                  the media's own timescale and duration
          hdlr                  'vide'
          minf
            vmhd
            dinf / dref / url   the media is in this file
            stbl
              stsd / mp4v / esds  objectTypeIndication 0x6C: JPEG (ISO/IEC 10918-1)
              stts              every frame lasts the same
              stsc              one chunk holding every sample
              stsz              one size per frame
              stco              where that chunk starts
    mdat                        the JPEGs
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

MOVIE_TIMESCALE = 1000  # mvhd: milliseconds
JPEG_OBJECT_TYPE = 0x6C  # ISO/IEC 14496-1 objectTypeIndication for JPEG
VISUAL_STREAM = 0x04  # streamType of a DecoderConfigDescriptor
_UNITY_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def _descriptor(tag: int, body: bytes) -> bytes:
    assert len(body) < 128, "one-byte descriptor lengths only"
    return bytes((tag, len(body))) + body


def _esds(bitrate: int, buffer_size: int) -> bytes:
    decoder_config = _descriptor(
        0x04,
        bytes((JPEG_OBJECT_TYPE, (VISUAL_STREAM << 2) | 1))  # upStream 0, reserved 1
        + buffer_size.to_bytes(3, "big")
        + struct.pack(">II", bitrate, bitrate),
    )
    sl_config = _descriptor(0x06, b"\x02")  # predefined: MP4 file
    es = _descriptor(0x03, struct.pack(">HB", 1, 0) + decoder_config + sl_config)
    return full_box(b"esds", 0, 0, es)


def _sample_entry(width: int, height: int, bitrate: int, buffer_size: int) -> bytes:
    name = b"Leonardo simulator MJPEG"
    return box(
        b"mp4v",
        b"\x00" * 6,  # reserved
        struct.pack(">H", 1),  # data_reference_index
        b"\x00" * 16,  # pre_defined, reserved, pre_defined[3]
        struct.pack(">HH", width, height),
        struct.pack(">II", 0x00480000, 0x00480000),  # 72 dpi
        b"\x00" * 4,  # reserved
        struct.pack(">H", 1),  # frame_count per sample
        bytes((len(name),)) + name.ljust(31, b"\x00"),  # compressorname: a Pascal string in 32 bytes
        struct.pack(">Hh", 0x0018, -1),  # depth, pre_defined
        _esds(bitrate, buffer_size),
    )


def mjpeg_mp4(frames: Sequence[bytes], width: int, height: int, duration_ms: int) -> bytes:
    """One MP4 playing `frames` (JPEG files, each `width` x `height`) evenly over `duration_ms`."""
    if not frames:
        raise ValueError("a clip needs at least one frame")
    if duration_ms <= 0:
        raise ValueError("duration_ms must be positive")
    count = len(frames)
    # Each frame lasts duration_ms units of a count*1000 Hz clock: exactly duration_ms in all.
    media_timescale = count * MOVIE_TIMESCALE
    sizes = [len(frame) for frame in frames]
    media_bytes = sum(sizes)
    bitrate = media_bytes * 8 * 1000 // duration_ms
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"mp41")

    def moov(chunk_offset: int) -> bytes:
        mvhd = full_box(
            b"mvhd", 0, 0,
            struct.pack(">IIII", 0, 0, MOVIE_TIMESCALE, duration_ms),  # created, modified, scale, duration
            struct.pack(">IH", 0x00010000, 0x0100),  # rate 1.0, volume 1.0
            b"\x00" * 10, _UNITY_MATRIX, b"\x00" * 24,
            struct.pack(">I", 2),  # next_track_ID
        )  # fmt: skip
        tkhd = full_box(
            b"tkhd", 0, 0x000003,  # enabled, in movie
            struct.pack(">IIII", 0, 0, 1, 0),  # created, modified, track_ID, reserved
            struct.pack(">I", duration_ms), b"\x00" * 8,
            struct.pack(">hhhH", 0, 0, 0, 0),  # layer, alternate_group, volume (video: 0), reserved
            _UNITY_MATRIX, struct.pack(">II", width << 16, height << 16),
        )  # fmt: skip
        mdhd = full_box(
            b"mdhd", 0, 0,
            struct.pack(">IIII", 0, 0, media_timescale, duration_ms * count),
            struct.pack(">HH", 0x55C4, 0),  # language 'und', pre_defined
        )  # fmt: skip
        hdlr = full_box(b"hdlr", 0, 0, struct.pack(">I4s", 0, b"vide"), b"\x00" * 12, b"VideoHandler\x00")
        stbl = box(
            b"stbl",
            full_box(b"stsd", 0, 0, struct.pack(">I", 1), _sample_entry(width, height, bitrate, max(sizes))),
            full_box(b"stts", 0, 0, struct.pack(">III", 1, count, duration_ms)),
            full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, count, 1)),
            full_box(b"stsz", 0, 0, struct.pack(">II", 0, count), struct.pack(f">{count}I", *sizes)),
            full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset)),
        )
        dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
        minf = box(b"minf", full_box(b"vmhd", 0, 1, b"\x00" * 8), dinf, stbl)
        return box(b"moov", mvhd, box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf)))

    # moov's size does not depend on the offset it holds (stco is 32-bit): measure, then place.
    offset = len(ftyp) + len(moov(0)) + 8
    return ftyp + moov(offset) + box(b"mdat", *frames)
