"""Uploading as an app would: a real PNG, the presigned form POSTed straight to the bucket."""

from __future__ import annotations

import io

import httpx
from PIL import Image


def png_bytes(size: tuple[int, int] = (64, 64), colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def post_form(form: dict, content: bytes, content_type: str = "image/png") -> httpx.Response:
    """The form's fields first (its Content-Type set to `content_type`), the file last, no Authorization."""
    fields = dict(form["fields"]) | {"Content-Type": content_type}
    return httpx.post(form["url"], data=fields, files={"file": ("upload", content, content_type)}, timeout=60)


def ready_upload_over_http(api: httpx.Client, headers: dict[str, str], content: bytes | None = None) -> dict:
    """Create, upload and complete a PNG through the public API; the READY upload."""
    created = api.post("/v1/uploads", json={"content_type": "image/png"}, headers=headers)
    assert created.status_code == 201, created.text
    upload = created.json()
    stored = post_form(upload["upload"], content or png_bytes())
    assert stored.status_code < 300, stored.text
    done = api.post(f"/v1/uploads/{upload['id']}/complete", headers=headers)
    assert done.status_code == 200, done.text
    return done.json()
