"""Output size caps: each kind (image, video) has its own, checked on Content-Length and again while
the bytes stream into S3; a refused or broken copy leaves nothing in the bucket, not even an
incomplete multipart upload.

The CDN is a fake httpx transport, so a test can send a Content-Length that lies or none at all;
S3 is moto. Caps are small here, and the multipart cases stream more than one 8 MiB part.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import boto3
import httpx
import pytest
from moto import mock_aws

from gencore.adapters.outputs import PART_BYTES, OutputFetcher, S3OutputStore
from gencore.domain.errors import OutputRejected, OutputUnavailable

pytestmark = pytest.mark.integration

ORIGIN = "https://cdn.example.com"
KiB = 1024
MiB = 1024 * KiB
PNG_HEAD = b"\x89PNG\r\n\x1a\n"
MP4_HEAD = b"\x00\x00\x00\x1cftypisom\x00\x00\x02\x00isomiso2mp41"
IMAGE_CAP = 64 * KiB
VIDEO_CAP = 256 * KiB


def body(head: bytes, size: int, piece: int = 16 * KiB) -> Iterator[bytes]:
    """`size` bytes starting with `head`, in pieces, made as they are read."""
    yield head
    sent = len(head)
    while sent < size:
        n = min(piece, size - sent)
        yield b"\x00" * n
        sent += n


class FakeCdn(httpx.BaseTransport):
    """Answers every GET with the next scripted (content type, pieces, Content-Length) answer."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, Iterator[bytes], int | None]] = []

    def add(self, content_type: str, pieces: Iterator[bytes], *, length: int | None) -> None:
        self.answers.append((content_type, pieces, length))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content_type, pieces, length = self.answers.pop(0)
        headers = {"content-type": content_type}
        if length is not None:
            headers["content-length"] = str(length)
        return httpx.Response(200, headers=headers, stream=_Stream(pieces))


class _Stream(httpx.SyncByteStream):
    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces


@pytest.fixture
def bucket() -> Iterator:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out")
        yield s3


def store_with(s3, cdn: FakeCdn, *, image_cap: int = IMAGE_CAP, video_cap: int = VIDEO_CAP) -> S3OutputStore:
    fetcher = OutputFetcher(
        frozenset({ORIGIN}), image_max_bytes=image_cap, video_max_bytes=video_cap, transport=cdn
    )
    return S3OutputStore(s3, "out", fetcher)


def copy(store: S3OutputStore, extension: str = "png"):
    return store.copy(f"{ORIGIN}/cdn/a.{extension}", "outputs/u/j", index=0, source_id="img")


def record_calls(s3) -> tuple[list[str], threading.Event]:
    """The S3 operations called, and an event set once a part has been uploaded."""
    calls: list[str] = []
    part_uploaded = threading.Event()
    s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    s3.meta.events.register("after-call.s3.UploadPart", lambda **_: part_uploaded.set())
    return calls, part_uploaded


def after(event: threading.Event, pieces: Iterator[bytes]) -> Iterator[bytes]:
    """`pieces` once `event` is set: the stream goes on only after a part has reached S3."""
    assert event.wait(10)
    yield from pieces


def assert_bucket_empty(s3) -> None:
    assert "Contents" not in s3.list_objects_v2(Bucket="out")
    assert s3.list_multipart_uploads(Bucket="out").get("Uploads", []) == []


def test_an_image_over_the_image_cap_is_refused_even_under_the_video_cap(bucket):
    cdn = FakeCdn()
    size = 2 * IMAGE_CAP  # under VIDEO_CAP
    cdn.add("image/png", body(PNG_HEAD, size), length=size)
    with pytest.raises(OutputRejected) as raised:
        copy(store_with(bucket, cdn))
    assert raised.value.code == "output_too_large"
    assert_bucket_empty(bucket)


def test_a_video_under_the_video_cap_is_copied_whole(bucket):
    cdn = FakeCdn()
    size = 2 * IMAGE_CAP  # over IMAGE_CAP, under VIDEO_CAP
    cdn.add("video/mp4", body(MP4_HEAD, size), length=size)
    image = copy(store_with(bucket, cdn), "mp4")
    assert (image.key, image.content_type, image.size) == ("outputs/u/j/0.mp4", "video/mp4", size)
    stored = bucket.get_object(Bucket="out", Key=image.key)
    assert stored["ContentLength"] == size and stored["ContentType"] == "video/mp4"


def test_an_output_exactly_at_its_cap_is_copied(bucket):
    cdn = FakeCdn()
    cdn.add("image/png", body(PNG_HEAD, IMAGE_CAP), length=None)
    assert copy(store_with(bucket, cdn)).size == IMAGE_CAP


def test_a_content_length_over_the_cap_is_refused_before_any_byte_is_read(bucket):
    cdn = FakeCdn()
    read = []

    def pieces() -> Iterator[bytes]:
        read.append(True)
        yield from body(MP4_HEAD, VIDEO_CAP + 1)

    cdn.add("video/mp4", pieces(), length=VIDEO_CAP + 1)
    with pytest.raises(OutputRejected) as raised:
        copy(store_with(bucket, cdn), "mp4")
    assert raised.value.code == "output_too_large"
    assert read == []
    assert_bucket_empty(bucket)


@pytest.mark.parametrize("length", [None, 1024], ids=["no Content-Length", "Content-Length lies"])
def test_an_output_growing_past_its_cap_is_refused_mid_stream(bucket, length):
    cdn = FakeCdn()
    cdn.add("image/png", body(PNG_HEAD, 4 * IMAGE_CAP), length=length)
    with pytest.raises(OutputRejected) as raised:
        copy(store_with(bucket, cdn))
    assert raised.value.code == "output_too_large"
    assert_bucket_empty(bucket)


def test_a_multipart_copy_refused_mid_stream_leaves_no_upload_behind(bucket):
    # Given a video cap of two and a half parts and a CDN that sends four parts' worth, unannounced
    calls, part_uploaded = record_calls(bucket)
    first = body(MP4_HEAD, 2 * PART_BYTES, piece=MiB)
    rest = after(part_uploaded, (b"\x00" * MiB for _ in range(2 * PART_BYTES // MiB)))
    cdn = FakeCdn()
    cdn.add("video/mp4", itertools.chain(first, rest), length=None)
    store = store_with(bucket, cdn, video_cap=PART_BYTES * 5 // 2)
    # When the copy reaches the cap, parts already uploaded
    with pytest.raises(OutputRejected) as raised:
        copy(store, "mp4")
    # Then it is refused and the multipart upload is aborted
    assert raised.value.code == "output_too_large"
    assert {"CreateMultipartUpload", "UploadPart", "AbortMultipartUpload"} <= set(calls)
    assert_bucket_empty(bucket)


def test_a_multipart_copy_whose_download_breaks_leaves_no_upload_behind(bucket):
    calls, part_uploaded = record_calls(bucket)

    def breaking() -> Iterator[bytes]:
        yield from body(MP4_HEAD, 2 * PART_BYTES + MiB, piece=MiB)
        assert part_uploaded.wait(10)
        raise httpx.ReadError("connection reset by peer")

    cdn = FakeCdn()
    cdn.add("video/mp4", breaking(), length=4 * PART_BYTES)
    store = store_with(bucket, cdn, video_cap=8 * PART_BYTES)
    with pytest.raises(OutputUnavailable):  # retryable: the event goes back to its queue
        copy(store, "mp4")
    assert {"CreateMultipartUpload", "UploadPart", "AbortMultipartUpload"} <= set(calls)
    assert_bucket_empty(bucket)


def test_a_multipart_copy_stores_every_byte_in_order(bucket):
    size = 2 * PART_BYTES + 12345

    def numbered() -> Iterator[bytes]:
        yield MP4_HEAD
        sent = len(MP4_HEAD)
        n = 0
        while sent < size:
            piece = bytes([n % 251]) * min(MiB, size - sent)
            yield piece
            sent += len(piece)
            n += 1

    expected = b"".join(numbered())
    cdn = FakeCdn()
    cdn.add("video/mp4", numbered(), length=size)
    image = copy(store_with(bucket, cdn, video_cap=4 * PART_BYTES), "mp4")
    assert bucket.get_object(Bucket="out", Key=image.key)["Body"].read() == expected
    assert image.size == size
