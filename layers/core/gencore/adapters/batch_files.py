"""A batch's checked items as a JSONL object in the output bucket (the BatchFiles port), streamed
both ways: written through a spooled temporary file (memory stays bounded, whatever the batch's
size), read back line by line."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

SPOOL_BYTES = 8 * 1024 * 1024  # above this, the file being written goes to /tmp (Lambda's ephemeral disk)


class S3BatchFiles:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3, self._bucket = client, bucket

    def write_lines(self, key: str, lines: Iterable[str]) -> None:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            for line in lines:
                spool.write(line.encode() + b"\n")
            spool.seek(0)
            self._s3.upload_fileobj(spool, self._bucket, key, ExtraArgs={"ContentType": "application/jsonl"})

    def read_lines(self, key: str) -> Iterator[str]:
        body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"]
        with body:
            for raw in body.iter_lines():
                if raw:
                    yield raw.decode()

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)
