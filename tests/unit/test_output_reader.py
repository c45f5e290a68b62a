"""The reader an output copy hands to S3: exact reads across the CDN's pieces, the size counted as
bytes arrive, the cap enforced mid-stream, and a transfer bounded in memory."""

from __future__ import annotations

import pytest

from gencore.adapters import outputs
from gencore.adapters.outputs import Download
from gencore.domain.errors import OutputRejected

pytestmark = pytest.mark.unit

HEAD = b"\x89PNG\r\n\x1a\n" + b"h" * 24


def download(*pieces: bytes, max_bytes: int = 1000) -> Download:
    return Download("image/png", "png", HEAD, iter(pieces), max_bytes)


def test_reads_return_exactly_what_was_asked_across_pieces():
    reader = download(b"abc", b"defgh", b"ij").reader()
    assert reader.read(len(HEAD) + 2) == HEAD + b"ab"
    assert reader.read(4) == b"cdef"
    assert reader.read(100) == b"ghij"
    assert reader.read(10) == b""


def test_a_read_of_nothing_takes_nothing():
    reader = download(b"abc").reader()
    assert reader.read(0) == b""
    assert reader.read(len(HEAD) + 3) == HEAD + b"abc"


def test_a_part_sized_read_past_the_end_returns_only_the_bytes_there_are():
    reader = download(*(bytes([n]) * 1000 for n in range(5)), max_bytes=10_000).reader()
    part = reader.read(outputs.PART_BYTES)  # sized up front for a whole part, then cut to what came
    assert part == HEAD + b"".join(bytes([n]) * 1000 for n in range(5))
    assert reader.read(outputs.PART_BYTES) == b""


def test_a_read_without_a_size_returns_the_rest():
    reader = download(b"abc", b"def").reader()
    assert reader.read() == HEAD + b"abcdef"
    assert reader.read() == b""


def test_the_size_counts_every_byte_read():
    d = download(b"a" * 10, b"b" * 5)
    reader = d.reader()
    while reader.read(4):
        pass
    assert d.size == len(HEAD) + 15


def test_an_output_growing_past_its_cap_is_refused_as_the_byte_arrives():
    d = download(b"a" * 30, b"b" * 30, max_bytes=len(HEAD) + 40)
    reader = d.reader()
    assert reader.read(len(HEAD) + 30) == HEAD + b"a" * 30
    with pytest.raises(OutputRejected) as raised:
        reader.read(1)
    assert raised.value.code == "output_too_large"


def test_an_output_exactly_at_its_cap_passes():
    d = download(b"a" * 40, max_bytes=len(HEAD) + 40)
    assert len(d.reader().read()) == len(HEAD) + 40


def test_the_fetcher_caps_each_kind_of_output_on_its_own():
    fetcher = outputs.OutputFetcher(frozenset(), image_max_bytes=2048, video_max_bytes=4096)
    assert fetcher.max_bytes("image/png") == fetcher.max_bytes("image/webp") == 2048
    assert fetcher.max_bytes("video/mp4") == 4096


def test_the_transfer_holds_a_bounded_number_of_parts():
    config = outputs._transfer_config()
    assert config.multipart_chunksize == config.multipart_threshold == outputs.PART_BYTES
    assert config.max_in_memory_upload_chunks == config.max_request_concurrency == outputs.PARTS_IN_MEMORY
    assert config.preferred_transfer_client == "classic"  # the CRT client ignores that bound
