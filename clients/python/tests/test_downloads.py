"""download(): <job_id>_<index>.<ext>, written through a temp file and renamed only when whole and
verified; a file already complete is not fetched again."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from fake_leo import SIGNED_QUERY, FakeLeo, image_bytes

from leoclient import Client, IntegrityError, JobView


def complete_job(client: Client, num_images: int = 2) -> JobView:
    return client.generate("a lighthouse", num_images=num_images)


def test_images_are_written_under_job_id_and_index(client: Client, tmp_path: Path):
    job = complete_job(client)

    results = client.download(job, tmp_path)

    assert [r.action for r in results] == ["downloaded", "downloaded"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{job.id}_0.png", f"{job.id}_1.png"]
    assert (tmp_path / f"{job.id}_1.png").read_bytes() == image_bytes(job.id, 1)


def test_a_second_download_fetches_nothing(client: Client, fake: FakeLeo, tmp_path: Path):
    job = complete_job(client)
    client.download(job, tmp_path)

    results = client.download(job, tmp_path)

    assert [r.action for r in results] == ["skipped", "skipped"]
    assert fake.cdn_gets == 2


def test_the_presigned_query_reaches_the_cdn_unchanged(client: Client, fake: FakeLeo, tmp_path: Path):
    client.download(complete_job(client, 1), tmp_path)

    [cdn] = [r for r in fake.requests if r.url.host == "cdn.test"]
    assert cdn.url.query.decode() == SIGNED_QUERY


def test_no_authorization_header_goes_to_the_cdn(client: Client, fake: FakeLeo, tmp_path: Path):
    client.download(complete_job(client, 1), tmp_path)

    cdn = [r for r in fake.requests if r.url.host == "cdn.test"]
    assert cdn and all("authorization" not in r.headers for r in cdn)


def test_a_file_that_contradicts_the_announced_size_or_hash_is_fetched_again(
    client: Client, fake: FakeLeo, tmp_path: Path
):
    job = complete_job(client, 1)
    stale = tmp_path / f"{job.id}_0.png"
    stale.write_bytes(b"not the image")

    [result] = client.download(job, tmp_path)

    assert result.action == "downloaded"
    assert stale.read_bytes() == image_bytes(job.id, 0)


def test_a_body_that_fails_its_sha256_leaves_no_file(client: Client, fake: FakeLeo, tmp_path: Path):
    job = complete_job(client, 1)
    fake.inject("GET https://cdn.test/", httpx.Response(200, content=b"tampered"))

    with pytest.raises(IntegrityError) as raised:
        client.download(job, tmp_path)

    assert raised.value.code == "checksum_mismatch"
    assert list(tmp_path.iterdir()) == []


def test_a_connection_cut_mid_body_is_retried_and_leaves_no_partial_file(
    client: Client, fake: FakeLeo, tmp_path: Path
):
    job = complete_job(client, 1)

    class CutStream(httpx.SyncByteStream):
        def __iter__(self):
            yield b"\x89PNG partial"
            raise httpx.ReadError("connection reset")

    fake.inject("GET https://cdn.test/", httpx.Response(200, stream=CutStream()))

    [result] = client.download(job, tmp_path)

    assert result.action == "downloaded"
    assert [p.name for p in tmp_path.iterdir()] == [f"{job.id}_0.png"]
    assert hashlib.sha256((tmp_path / f"{job.id}_0.png").read_bytes()).hexdigest() == job.images[0].sha256


def test_without_size_or_hash_an_existing_file_counts_as_complete(
    client: Client, fake: FakeLeo, tmp_path: Path
):
    # Jobs stored before images had size and sha256: only whole files are ever renamed into place
    fake.legacy_images = True
    job = complete_job(client, 1)
    assert job.images[0].size is None and job.images[0].sha256 is None
    client.download(job, tmp_path)

    [again] = client.download(job, tmp_path)

    assert again.action == "skipped"
    assert fake.cdn_gets == 1


def test_a_withheld_image_is_reported_not_fetched(client: Client, tmp_path: Path):
    job = complete_job(client, 1)
    withheld = job.model_copy(
        update={"images": [job.images[0].model_copy(update={"url": None, "withheld": True})]}
    )

    [result] = client.download(withheld, tmp_path)

    assert (result.action, result.path) == ("withheld", None)
