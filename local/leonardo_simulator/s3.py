"""The simulated S3 bucket that init images are uploaded to (presigned POST).

Like S3, it reads the form fields, then the file (which must be last and be
named `file`), checks the signed policy before accepting a single byte of the
file, stops reading the file once it passes the policy's size ceiling, and
answers errors as S3's XML documents. It takes no Leonardo authorization: a
request carrying an Authorization header is refused, as S3 refuses a second
auth mechanism (CONTRACT.md names that header as a known cause of 403s).
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from . import presign, views
from .formdata import FormReader, MalformedForm, boundary_of, discard
from .initimages import UPLOAD_PATH
from .presign import S3Error

if TYPE_CHECKING:
    from .simulator import Simulator

# S3 limits the fields before the file to 20 KB in total.
MAX_PRE_DATA_BYTES = 20 * 1024
# After a rejection, up to this much of the rest is read and discarded so the
# client gets the XML answer instead of a reset; past it the connection is closed.
DRAIN_BYTES = 32 * 1024 * 1024


def error_response(error: S3Error) -> Response:
    extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in error.extra.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{error.code}</Code><Message>{escape(error.message)}</Message>{extra}"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return Response(body, status_code=error.status, media_type="application/xml")


def _malformed() -> S3Error:
    return S3Error(
        400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data."
    )


async def _read_fields(reader: FormReader) -> dict[str, str]:
    """The fields before the file (names lower-cased, as S3 matches them), read up to the `file` part."""
    fields: dict[str, str] = {}
    budget = MAX_PRE_DATA_BYTES
    while (part := await reader.next_part()) is not None:
        if part.name.lower() == "file":
            return fields
        value = bytearray()
        while piece := await reader.read():
            value += piece
            if len(value) > budget:
                raise S3Error(
                    400,
                    "MaxPostPreDataLengthExceeded",
                    "Your POST request fields preceeding the upload file was too large.",  # sic, S3's
                )
        budget -= len(value)
        fields[part.name.lower()] = value.decode("utf-8", "replace")
    raise S3Error(
        400, "InvalidArgument", "POST requires exactly one file upload per request.", ArgumentName="file"
    )


async def _read_file(reader: FormReader, size_range: tuple[int, int]) -> bytes:
    low, high = size_range
    content = bytearray()
    while piece := await reader.read():
        if len(content) + len(piece) > high:
            raise S3Error(
                400,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
                MaxSizeAllowed=str(high),
            )
        content += piece
    if len(content) < low:
        raise S3Error(
            400,
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size",
            MinSizeAllowed=str(low),
            ProposedSize=str(len(content)),
        )
    return bytes(content)


async def _receive(request: Request, stream: AsyncIterator[bytes], sim: Simulator) -> tuple[str, bytes]:
    if "authorization" in request.headers:
        raise S3Error(
            403,
            "AccessDenied",
            "Only one auth mechanism allowed: a presigned POST must not carry an Authorization header",
        )
    reader = FormReader(stream, boundary_of(request.headers.get("content-type", "")))
    fields = await _read_fields(reader)
    if "key" not in fields:
        raise S3Error(
            400, "InvalidArgument", "Bucket POST must contain a field named 'key'.", ArgumentName="key"
        )
    size_range = presign.verify(fields, sim.upload_signing_key, views.now())
    return fields["key"], await _read_file(reader, size_range)


async def post_object(request: Request) -> Response:
    sim: Simulator = request.app.state.simulator
    stream = request.stream()
    try:
        key, content = await _receive(request, stream, sim)
    except (S3Error, MalformedForm) as exc:
        sim.stats.incr("uploads_rejected")
        response = error_response(exc if isinstance(exc, S3Error) else _malformed())
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is left to read an answer
    else:
        sim.attach_init_image(key, content)
        etag = f'"{hashlib.md5(content, usedforsecurity=False).hexdigest()}"'
        location = f"{request.url.scheme}://{request.url.netloc}{UPLOAD_PATH}/{key}"
        response = Response(status_code=204, headers={"ETag": etag, "Location": location})
    # S3 ignores fields after the file; after a rejection the rest is dropped unread too.
    with contextlib.suppress(ClientDisconnect):
        await discard(stream, DRAIN_BYTES)
    return response
