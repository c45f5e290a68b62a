"""Init images: the upload slots POST /init-image hands out and the bytes later
posted to them through the simulated S3 endpoint."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime

# Leonardo accepts exactly these extensions; the presigned policy pins the
# matching Content-Type.
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
# The simulated bucket's URL path: off the API prefix, like S3 is off Leonardo's host.
UPLOAD_PATH = "/_s3/init-images"


def object_key(user_id: str, init_image_id: str, extension: str) -> str:
    """The bucket key, laid out like Leonardo's (`users/<userId>/initImages/<id>.<ext>`)."""
    return f"users/{user_id}/initImages/{init_image_id}.{extension}"


@dataclass
class InitImageRecord:
    id: str
    user_id: str
    extension: str
    key: str
    content_type: str
    origin: str  # scheme://host:port the CDN URL is built on
    created_at: datetime
    content: bytes | None = None  # None until the presigned POST has succeeded
    sha256: str | None = None  # of `content`; generations mix it into their pictures

    @property
    def upload_url(self) -> str:
        return f"{self.origin}{UPLOAD_PATH}"

    @property
    def url(self) -> str:
        """Where the CDN serves the upload (the same `/cdn/users/...` scheme as generated images)."""
        return f"{self.origin}/cdn/{self.key}"

    @property
    def uploaded(self) -> bool:
        return self.content is not None


class InitImageStore:
    def __init__(self) -> None:
        # Written from the server loop, read from test threads.
        self._lock = threading.Lock()
        self._records: dict[str, InitImageRecord] = {}

    def add(self, record: InitImageRecord) -> None:
        with self._lock:
            self._records[record.id] = record

    def get(self, init_image_id: str) -> InitImageRecord | None:
        with self._lock:
            return self._records.get(init_image_id)

    def delete(self, init_image_id: str) -> InitImageRecord | None:
        with self._lock:
            return self._records.pop(init_image_id, None)

    def attach(self, key: str, content: bytes) -> InitImageRecord | None:
        """Store uploaded bytes on the slot owning `key`; None if the slot is gone
        (deleted after its presigned details were handed out)."""
        with self._lock:
            for record in self._records.values():
                if record.key == key:
                    record.content = content
                    record.sha256 = hashlib.sha256(content).hexdigest()
                    return record
        return None

    def snapshot(self) -> dict[str, InitImageRecord]:
        with self._lock:
            return dict(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
