"""A streaming multipart/form-data reader for the simulated S3 upload endpoint.

Starlette's own form parser needs python-multipart and spools whole files; the
S3 endpoint must instead stop reading as soon as a file passes the policy's
size ceiling, so this reader hands out a part's body piece by piece and never
holds more than one network chunk plus one delimiter.
"""

from __future__ import annotations

import email.message
import email.utils
from collections.abc import AsyncIterator
from dataclasses import dataclass

MAX_HEADER_BYTES = 8 * 1024  # per part; real forms send a few dozen bytes


class MalformedForm(Exception):
    """The body is not well-formed multipart/form-data."""


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None


def _param(header_name: str, value: str, param: str) -> str | None:
    message = email.message.Message()
    message[header_name] = value
    found = message.get_param(param, header=header_name)
    if found is None or isinstance(found, str):
        return found
    return email.utils.collapse_rfc2231_value(found)


def boundary_of(content_type: str) -> str:
    """The boundary of a multipart/form-data Content-Type header, or MalformedForm."""
    media_type = content_type.partition(";")[0].strip().lower()
    boundary = _param("content-type", content_type, "boundary") if content_type else None
    if media_type != "multipart/form-data" or not boundary or len(boundary) > 70:
        raise MalformedForm("not multipart/form-data with a boundary")
    return boundary


def _parse_headers(raw: bytes) -> Part:
    headers: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            raise MalformedForm("part header without a colon")
        headers[name.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    name = _param("content-disposition", disposition, "name")
    if not disposition.lower().startswith("form-data") or name is None:
        raise MalformedForm("part without a form-data name")
    return Part(name, _param("content-disposition", disposition, "filename"), headers.get("content-type"))


class FormReader:
    """`next_part()` moves to the next part (skipping what is left of the current
    one); `read()` returns the current part's body piece by piece."""

    def __init__(self, stream: AsyncIterator[bytes], boundary: str) -> None:
        self._stream = stream
        self._delimiter = b"\r\n--" + boundary.encode("latin-1")
        # A leading CRLF makes the first boundary look like every later delimiter.
        self._buf = bytearray(b"\r\n")
        self._eof = False
        self._started = False
        self._in_body = False
        self._closed = False

    async def _fill(self) -> bool:
        if self._eof:
            return False
        try:
            chunk = await anext(self._stream)
        except StopAsyncIteration:
            self._eof = True
            return False
        self._buf += chunk
        return True

    async def _skip_preamble(self) -> None:
        keep = len(self._delimiter) - 1
        while (at := self._buf.find(self._delimiter)) < 0:
            del self._buf[: max(0, len(self._buf) - keep)]
            if not await self._fill():
                raise MalformedForm("no boundary in the body")
        del self._buf[: at + len(self._delimiter)]

    async def _need(self, size: int) -> None:
        while len(self._buf) < size:
            if not await self._fill():
                raise MalformedForm("the body ended early")

    async def next_part(self) -> Part | None:
        """The next part's headers, or None after the closing delimiter."""
        while self._in_body:
            await self.read()
        if not self._started:
            await self._skip_preamble()
            self._started = True
        if self._closed:
            return None
        await self._need(2)
        if self._buf[:2] == b"--":
            self._closed = True
            return None
        if self._buf[:2] != b"\r\n":
            raise MalformedForm("garbage after a boundary")
        del self._buf[:2]
        while (end := self._buf.find(b"\r\n\r\n")) < 0:
            if len(self._buf) > MAX_HEADER_BYTES:
                raise MalformedForm("part headers too long")
            await self._need(len(self._buf) + 1)
        part = _parse_headers(bytes(self._buf[:end]))
        del self._buf[: end + 4]
        self._in_body = True
        return part

    async def read(self) -> bytes:
        """The next piece of the current part's body; b"" once that part has ended."""
        keep = len(self._delimiter) - 1  # a delimiter may straddle two chunks
        while self._in_body:
            at = self._buf.find(self._delimiter)
            if at >= 0:
                piece = bytes(self._buf[:at])
                del self._buf[: at + len(self._delimiter)]
                self._in_body = False
                return piece
            if len(self._buf) > keep:
                cut = len(self._buf) - keep
                piece = bytes(self._buf[:cut])
                del self._buf[:cut]
                return piece
            if not await self._fill():
                raise MalformedForm("the body ended inside a part")
        return b""


async def discard(stream: AsyncIterator[bytes], budget: int) -> None:
    """Read and drop up to `budget` more bytes of `stream`, so a client still
    sending sees the answer rather than a reset connection."""
    async for chunk in stream:
        budget -= len(chunk)
        if budget <= 0:
            return
