"""upload_file(): ask for an upload, POST the file to the presigned form (fields first, file last, no
Authorization header), then complete it; a refused file raises with the upload's code."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_leo import FakeLeo

from leoclient import Client, UploadRejectedError

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_an_image_upload_ends_ready(client: Client, fake: FakeLeo, tmp_path: Path):
    source = tmp_path / "source.png"
    source.write_bytes(PNG)

    upload = client.upload_file(source)

    assert (upload.status, upload.purpose, upload.content_type, upload.size) == (
        "READY",
        "init",
        "image/png",
        72,
    )
    assert fake.objects[f"uploads/{upload.id}"] == (PNG, "image/png")
    assert client.get_upload(upload.id).status == "READY"


def test_the_bucket_gets_the_form_without_our_token(client: Client, fake: FakeLeo, tmp_path: Path):
    source = tmp_path / "mask.png"
    source.write_bytes(PNG)

    client.upload_file(source, purpose="mask")

    [bucket_post] = [r for r in fake.requests if r.url.host == "bucket.s3.test"]
    assert "authorization" not in bucket_post.headers
    assert bucket_post.headers["content-type"].startswith("multipart/form-data")


def test_a_refused_file_raises_with_the_uploads_code(client: Client, tmp_path: Path):
    fake_png = tmp_path / "notes.png"
    fake_png.write_bytes(b"just text")

    with pytest.raises(UploadRejectedError) as raised:
        client.upload_file(fake_png)

    assert raised.value.code == "upload_not_an_image"
    assert "upload_id" in raised.value.details


def test_a_file_over_the_forms_limit_is_refused_before_sending(client: Client, fake: FakeLeo, tmp_path: Path):
    big = tmp_path / "big.png"
    big.write_bytes(PNG + b"\x00" * (10 * 1024 * 1024))

    with pytest.raises(UploadRejectedError) as raised:
        client.upload_file(big)

    assert raised.value.code == "upload_too_large"
    assert not [r for r in fake.requests if r.url.host == "bucket.s3.test"]


def test_a_jsonl_manifest_is_sent_as_application_jsonl(client: Client, tmp_path: Path):
    manifest = tmp_path / "prompts.jsonl"
    manifest.write_text('{"custom_id": "a", "prompt": "x"}\n')

    upload = client.upload_file(manifest, purpose="batch_manifest")

    assert (upload.status, upload.content_type) == ("READY", "application/jsonl")
