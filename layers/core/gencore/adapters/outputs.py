"""Output files: fetched only from allow-listed origins, streamed into S3, served by presigned URL."""

from __future__ import annotations

import hashlib
import io
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from gencore.domain.errors import OutputRejected, OutputUnavailable
from gencore.domain.models import OutputImage

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MiB = 1024 * 1024

# content type -> (extension, magic-bytes check on the first bytes)
CONTENT_TYPES: dict[str, tuple[str, Any]] = {
    "image/png": ("png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    "image/jpeg": ("jpg", lambda head: head.startswith(b"\xff\xd8\xff")),
    "image/webp": ("webp", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
    "video/mp4": ("mp4", lambda head: head[4:8] == b"ftyp"),
}
HEAD_BYTES = 32

# A copy holds PARTS_IN_MEMORY parts being uploaded (s3transfer's bound on a stream it cannot
# seek) and the next one, being read or waiting its turn: 3 x 8 MiB whatever the file's size, plus
# the HTTP clients' buffers and the allocator's slack (bench/output_copy.py: 47-55 MB of RSS growth;
# 4 parts measured ~71 MB, over the 64 MB budget, and were no faster). The uploads overlap the
# download, which is what keeps the copy as fast as a plain upload from disk.
PART_BYTES = 8 * MiB  # S3's smallest part is 5 MiB; 8 MiB also makes a 1 GiB video 128 parts
PARTS_IN_MEMORY = 2
PRESIZE_MAX_BYTES = 4 * PART_BYTES  # a read asking for more (or for everything) grows its buffer as it goes


@cache
def _transfer_config() -> Any:
    # Imported on the first copy: every function imports this module, only the processor copies.
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=PART_BYTES,
        multipart_chunksize=PART_BYTES,
        max_concurrency=PARTS_IN_MEMORY,
        preferred_transfer_client="classic",  # the bound below is s3transfer's, not the CRT's
    )
    config.max_in_memory_upload_chunks = PARTS_IN_MEMORY  # s3transfer's knob; boto3's init omits it
    return config


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of an absolute http(s) URL without credentials, else None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def parse_origins(spec: str) -> frozenset[str]:
    origins = set()
    for entry in spec.split(","):
        entry = entry.strip()
        if entry:
            origin = origin_of(entry)
            if origin is None:
                raise ValueError(f"not an http(s) origin: {entry!r}")
            origins.add(origin)
    return frozenset(origins)


def png_size(head: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk, which always comes first."""
    if len(head) >= 24 and head.startswith(b"\x89PNG") and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    return None


@dataclass
class Download:
    content_type: str
    extension: str
    head: bytes
    chunks: Iterator[bytes]
    max_bytes: int  # the cap for this kind of output (image or video)
    size: int = 0
    digest: Any = field(default_factory=hashlib.sha256)  # of the bytes read so far

    def reader(self) -> _StreamReader:
        return _StreamReader(self)


class _StreamReader:
    """A file-like view over the download for upload_fileobj: it holds no more than one read's worth
    of bytes, and counts them as they arrive, so an output over its cap is refused mid-stream."""

    def __init__(self, download: Download) -> None:
        self._download = download
        self._pending = b""
        download.size, download.digest = 0, hashlib.sha256()
        self._take(download.head)

    def read(self, size: int = -1) -> bytes:
        wanted = size if size >= 0 else sys.maxsize
        # A part (s3transfer asks for one at a time) is written into a buffer sized for it up front,
        # piece by piece as they arrive; getvalue() hands that buffer over without a copy. So the
        # part is in memory once, and in one allocation: a buffer grown write by write reallocated
        # all along and touched fresh pages each time (9x the page faults, 0.4 s more CPU per GB).
        out = io.BytesIO()
        if 0 < wanted <= PRESIZE_MAX_BYTES:
            out.seek(wanted - 1)
            out.write(b"\0")
            out.seek(0)
        while out.tell() < wanted:
            if not self._pending:
                chunk = next(self._download.chunks, b"")
                if not chunk:
                    break
                self._take(chunk)
            piece = self._pending[: wanted - out.tell()]  # the whole chunk, uncopied, unless it overshoots
            self._pending = self._pending[len(piece) :]
            out.write(piece)
        out.truncate()  # at what was written: the last part is shorter than asked
        return out.getvalue()

    def _take(self, chunk: bytes) -> None:
        self._download.size += len(chunk)
        self._download.digest.update(chunk)
        if self._download.size > self._download.max_bytes:
            raise OutputRejected("Output is larger than allowed", code="output_too_large")
        self._pending = chunk


class OutputFetcher:
    """Fetches outputs from allow-listed origins, each kind (image, video) under its own size cap."""

    def __init__(
        self,
        allowed_origins: frozenset[str],
        *,
        image_max_bytes: int = 200 * MiB,
        video_max_bytes: int = 1024 * MiB,
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,  # tests only: a fake CDN
    ) -> None:
        self._allowed = allowed_origins
        self._max_bytes = {"image": image_max_bytes, "video": video_max_bytes}
        # Redirects are never followed: a redirect could lead off the allow-list.
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False, transport=transport
        )

    def check(self, url: str) -> None:
        origin = origin_of(url)
        if origin is None or origin not in self._allowed:
            raise OutputRejected("Output URL is not on an allowed host", code="output_host_not_allowed")

    def max_bytes(self, content_type: str) -> int:
        return self._max_bytes[content_type.partition("/")[0]]

    @contextmanager
    def open(self, url: str) -> Iterator[Download]:
        self.check(url)
        try:
            with self._http.stream("GET", url) as response:
                self._check_response(response)
                content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                extension, looks_right = CONTENT_TYPES[content_type]
                chunks = response.iter_bytes()  # as the socket gives them (<= 64 KiB): no re-chunking copy
                head = b""
                for chunk in chunks:
                    head += chunk
                    if len(head) >= HEAD_BYTES:
                        break
                if not looks_right(head):
                    raise OutputRejected(
                        "Output bytes do not match their content type", code="output_type_mismatch"
                    )
                yield Download(content_type, extension, head, chunks, self.max_bytes(content_type))
        except httpx.HTTPError as error:
            raise OutputUnavailable(f"Fetching output failed: {type(error).__name__}") from error

    def _check_response(self, response: httpx.Response) -> None:
        status = response.status_code
        if 300 <= status < 400:
            raise OutputRejected("Output URL redirects; redirects are not followed", code="output_redirect")
        if status == 404 or status >= 500 or status == 429:
            raise OutputUnavailable(f"Output fetch answered {status}")
        if status != 200:
            raise OutputRejected(f"Output fetch answered {status}", code="output_fetch_refused")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in CONTENT_TYPES:
            raise OutputRejected("Output has an unsupported content type", code="output_type_not_allowed")
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_bytes(content_type):
            raise OutputRejected("Output is larger than allowed", code="output_too_large")


class S3OutputStore:
    def __init__(
        self, s3: S3Client, bucket: str, fetcher: OutputFetcher, *, url_ttl_seconds: int = 3600
    ) -> None:
        self._s3, self._bucket, self._fetcher, self._ttl = s3, bucket, fetcher, url_ttl_seconds

    def existing(self, key_prefix: str, *, index: int, source_id: str) -> OutputImage | None:
        listing = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=f"{key_prefix}/{index}.")
        for entry in listing.get("Contents", []):
            head = self._s3.head_object(Bucket=self._bucket, Key=entry["Key"])
            meta = head.get("Metadata", {})
            if meta.get("source-id") == source_id:
                return OutputImage(
                    index=index,
                    key=entry["Key"],
                    content_type=head["ContentType"],
                    size=head["ContentLength"],
                    width=int(meta["width"]) if meta.get("width") else None,
                    height=int(meta["height"]) if meta.get("height") else None,
                    sha256=self._digest(entry["Key"]),
                    leonardo_image_id=source_id,
                )
        return None

    def copy(self, url: str, key_prefix: str, *, index: int, source_id: str) -> OutputImage:
        with self._fetcher.open(url) as download:
            key = f"{key_prefix}/{index}.{download.extension}"
            size = png_size(download.head)
            metadata = {"source-id": source_id}
            if size:
                metadata |= {"width": str(size[0]), "height": str(size[1])}
            # Multipart above one part, bounded in memory (_transfer_config); s3transfer aborts
            # the multipart upload when anything fails, a too-large or broken stream included.
            self._s3.upload_fileobj(
                download.reader(),  # type: ignore[arg-type]  # read() is all upload_fileobj calls
                self._bucket,
                key,
                ExtraArgs={"ContentType": download.content_type, "Metadata": metadata},
                Config=_transfer_config(),
            )
        return OutputImage(
            index=index,
            key=key,
            content_type=download.content_type,
            size=download.size,
            width=size[0] if size else None,
            height=size[1] if size else None,
            sha256=download.digest.hexdigest(),
            leonardo_image_id=source_id,
        )

    def _digest(self, key: str) -> str:
        """The sha256 of a copy made by an earlier attempt (read back once, streamed: crash recovery)."""
        digest = hashlib.sha256()
        body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"]
        while chunk := body.read(1024 * 1024):
            digest.update(chunk)
        body.close()
        return digest.hexdigest()

    def presign(self, key: str) -> str:
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=self._ttl
        )

    def delete(self, key: str) -> None:
        # The bucket keeps a noncurrent version for a while (its lifecycle rule removes it).
        self._s3.delete_object(Bucket=self._bucket, Key=key)
