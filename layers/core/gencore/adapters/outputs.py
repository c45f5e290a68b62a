"""Output files: fetched only from allow-listed origins, streamed into S3, served by presigned URL."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from gencore.domain.errors import OutputRejected, OutputUnavailable
from gencore.domain.models import OutputImage

# content type -> (extension, magic-bytes check on the first bytes)
CONTENT_TYPES: dict[str, tuple[str, Any]] = {
    "image/png": ("png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    "image/jpeg": ("jpg", lambda head: head.startswith(b"\xff\xd8\xff")),
    "image/webp": ("webp", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
    "video/mp4": ("mp4", lambda head: head[4:8] == b"ftyp"),
}
HEAD_BYTES = 32


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
    max_bytes: int
    size: int = 0

    def reader(self) -> _StreamReader:
        return _StreamReader(self)


class _StreamReader:
    """A file-like view over the download for upload_fileobj: bounded, never the whole file in memory."""

    def __init__(self, download: Download) -> None:
        self._download = download
        self._buffer = bytearray(download.head)
        download.size = len(download.head)

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                chunk = next(self._download.chunks)
            except StopIteration:
                break
            self._download.size += len(chunk)
            if self._download.size > self._download.max_bytes:
                raise OutputRejected("Output is larger than allowed", code="output_too_large")
            self._buffer.extend(chunk)
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


class OutputFetcher:
    def __init__(
        self, allowed_origins: frozenset[str], *, max_bytes: int = 200 * 1024 * 1024, timeout: float = 20.0
    ) -> None:
        self._allowed = allowed_origins
        self._max_bytes = max_bytes
        # Redirects are never followed: a redirect could lead off the allow-list.
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False)

    def check(self, url: str) -> None:
        origin = origin_of(url)
        if origin is None or origin not in self._allowed:
            raise OutputRejected("Output URL is not on an allowed host", code="output_host_not_allowed")

    @contextmanager
    def open(self, url: str) -> Iterator[Download]:
        self.check(url)
        try:
            with self._http.stream("GET", url) as response:
                self._check_response(response)
                content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                extension, looks_right = CONTENT_TYPES[content_type]
                chunks = response.iter_bytes(64 * 1024)
                head = b""
                for chunk in chunks:
                    head += chunk
                    if len(head) >= HEAD_BYTES:
                        break
                if not looks_right(head):
                    raise OutputRejected(
                        "Output bytes do not match their content type", code="output_type_mismatch"
                    )
                yield Download(content_type, extension, head, chunks, self._max_bytes)
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
        if length and length.isdigit() and int(length) > self._max_bytes:
            raise OutputRejected("Output is larger than allowed", code="output_too_large")


class S3OutputStore:
    def __init__(self, s3: Any, bucket: str, fetcher: OutputFetcher, *, url_ttl_seconds: int = 3600) -> None:
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
            self._s3.upload_fileobj(
                download.reader(),
                self._bucket,
                key,
                ExtraArgs={"ContentType": download.content_type, "Metadata": metadata},
            )
        return OutputImage(
            index=index,
            key=key,
            content_type=download.content_type,
            size=download.size,
            width=size[0] if size else None,
            height=size[1] if size else None,
            leonardo_image_id=source_id,
        )

    def presign(self, key: str) -> str:
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=self._ttl
        )
