"""A strict ISO BMFF (MP4) reader for tests: every box's size must add up exactly, and the few boxes a
player needs to find the frames are decoded field by field.

`read_mp4(data)` returns an `Mp4` with the top-level box order, the movie's length, the track's size,
the sample entry and esds fields, and each sample's bytes (found through stsc/stsz/stco). Anything
malformed raises AssertionError naming what is wrong.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from fractions import Fraction

# Boxes whose payload is nothing but child boxes.
CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"dinf", b"stbl", b"edts"})


@dataclass
class Box:
    kind: bytes
    start: int  # offset of the header in the file
    payload: bytes
    children: list[Box] = field(default_factory=list)

    def child(self, kind: bytes) -> Box:
        found = [c for c in self.children if c.kind == kind]
        assert len(found) == 1, f"{self.kind!r} holds {len(found)} {kind!r} boxes"
        return found[0]


def walk(data: bytes, start: int = 0, end: int | None = None) -> list[Box]:
    """The boxes laid end to end in data[start:end]; they must fill it exactly."""
    end = len(data) if end is None else end
    boxes, at = [], start
    while at < end:
        assert end - at >= 8, f"{end - at} stray bytes at {at}"
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        assert size >= header, f"box {kind!r} at {at} has size {size}"
        assert at + size <= end, f"box {kind!r} at {at} runs past its parent ({at + size} > {end})"
        box = Box(kind, at, data[at + header : at + size])
        if kind in CONTAINERS:
            box.children = walk(data, at + header, at + size)
        boxes.append(box)
        at += size
    assert at == end, "boxes do not add up to their parent's size"
    return boxes


def full_box(box: Box) -> tuple[int, int, bytes]:
    (word,) = struct.unpack_from(">I", box.payload)
    return word >> 24, word & 0xFFFFFF, box.payload[4:]


@dataclass
class Mp4:
    top: list[bytes]  # top-level box kinds, in order
    brand: bytes
    timescale: int
    duration: int
    width: int
    height: int
    handler: bytes
    codec: bytes
    object_type: int  # the esds objectTypeIndication
    sample_deltas: list[int]
    media_timescale: int
    samples: list[bytes]

    @property
    def seconds(self) -> Fraction:
        return Fraction(self.duration, self.timescale)


def _descriptors(data: bytes) -> dict[int, bytes]:
    """tag -> body of the (possibly nested) MPEG-4 descriptors in an esds box."""
    found: dict[int, bytes] = {}
    at = 0
    while at < len(data):
        tag, at = data[at], at + 1
        length = 0
        while True:
            byte, at = data[at], at + 1
            length = (length << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        body = data[at : at + length]
        assert len(body) == length, f"descriptor {tag:#x} is cut short"
        found[tag] = body
        if tag == 0x03:  # ES_Descriptor: ES_ID, flags, then nested descriptors
            found.update(_descriptors(body[3:]))
        elif tag == 0x04:  # DecoderConfigDescriptor: 13 bytes, then nested ones
            found.update(_descriptors(body[13:]))
        at += length
    return found


def read_mp4(data: bytes) -> Mp4:
    top = walk(data)
    kinds = [b.kind for b in top]
    assert kinds[0] == b"ftyp", f"starts with {kinds[0]!r}"
    assert kinds.count(b"moov") == 1 and kinds.count(b"mdat") == 1, kinds
    moov = next(b for b in top if b.kind == b"moov")
    mdat = next(b for b in top if b.kind == b"mdat")
    version, _, mvhd = full_box(moov.child(b"mvhd"))
    assert version == 0
    _, _, timescale, duration = struct.unpack_from(">IIII", mvhd)
    traks = [c for c in moov.children if c.kind == b"trak"]
    assert len(traks) == 1, f"{len(traks)} tracks"
    trak = traks[0]
    _, flags, tkhd = full_box(trak.child(b"tkhd"))
    assert flags & 1, "track not enabled"
    track_duration = struct.unpack_from(">I", tkhd, 16)[0]
    assert track_duration == duration, "tkhd and mvhd durations differ"
    width, height = (value >> 16 for value in struct.unpack_from(">II", tkhd, 72))
    mdia = trak.child(b"mdia")
    _, _, mdhd = full_box(mdia.child(b"mdhd"))
    _, _, media_timescale, media_duration = struct.unpack_from(">IIII", mdhd)
    handler = full_box(mdia.child(b"hdlr"))[2][4:8]
    stbl = mdia.child(b"minf").child(b"stbl")
    _, _, stsd = full_box(stbl.child(b"stsd"))
    (entries,) = struct.unpack_from(">I", stsd)
    assert entries == 1
    [entry] = walk(stsd, 4)
    entry_width, entry_height = struct.unpack_from(">HH", entry.payload, 24)
    assert (entry_width, entry_height) == (width, height), "sample entry and track sizes differ"
    [esds] = walk(entry.payload, 78)
    assert esds.kind == b"esds"
    decoder_config = _descriptors(full_box(esds)[2])[0x04]
    _, _, stts = full_box(stbl.child(b"stts"))
    deltas: list[int] = []
    for i in range(struct.unpack_from(">I", stts)[0]):
        count, delta = struct.unpack_from(">II", stts, 4 + 8 * i)
        deltas += [delta] * count
    assert sum(deltas) == media_duration, "stts does not add up to mdhd's duration"
    assert Fraction(media_duration, media_timescale) == Fraction(duration, timescale), "media vs movie length"
    _, _, stsz = full_box(stbl.child(b"stsz"))
    uniform, count = struct.unpack_from(">II", stsz)
    sizes = [uniform] * count if uniform else list(struct.unpack_from(f">{count}I", stsz, 8))
    assert len(deltas) == count, "stts and stsz count different samples"
    _, _, stco = full_box(stbl.child(b"stco"))
    offsets = list(struct.unpack_from(f">{struct.unpack_from('>I', stco)[0]}I", stco, 4))
    _, _, stsc = full_box(stbl.child(b"stsc"))
    runs = [struct.unpack_from(">III", stsc, 4 + 12 * i) for i in range(struct.unpack_from(">I", stsc)[0])]
    samples, index = [], 0
    for chunk, offset in enumerate(offsets, start=1):
        per_chunk = next(n for first, n, _ in reversed(runs) if first <= chunk)
        for _ in range(per_chunk):
            size = sizes[index]
            assert mdat.start + 8 <= offset and offset + size <= mdat.start + 8 + len(mdat.payload), (
                f"sample {index} lies outside mdat"
            )
            samples.append(data[offset : offset + size])
            offset += size
            index += 1
    assert index == count, "stsc/stco do not place every sample"
    return Mp4(
        top=kinds,
        brand=top[0].payload[:4],
        timescale=timescale,
        duration=duration,
        width=width,
        height=height,
        handler=handler,
        codec=entry.kind,
        object_type=decoder_config[0],
        sample_deltas=deltas,
        media_timescale=media_timescale,
        samples=samples,
    )
