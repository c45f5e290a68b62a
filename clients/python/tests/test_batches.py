"""Batches: create inline or from a JSONL manifest, the refusal report, Idempotency-Key replays, the
list and results iterators across pages, wait, cancel, and resumable downloads of every result."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import FakeClock
from fake_leo import API, FakeLeo

from leoclient import BatchInvalidError, Client, ConflictError, NotFoundError


def items(n: int, **extra: object) -> list[dict[str, object]]:
    return [{"custom_id": f"item-{i}", "prompt": f"prompt {i}", **extra} for i in range(n)]


def write_manifest(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_an_inline_batch_is_accepted_with_its_items(client: Client, fake: FakeLeo):
    batch = client.create_batch(items(3), name="catalogue")

    assert (batch.name, batch.status, batch.items, batch.skipped) == ("catalogue", "RUNNING", 3, 0)
    assert batch.counts["QUEUED"] == 3
    assert batch.credits.unit == "CREDITS"
    [create] = [r for r in fake.requests if r.url.path == "/v1/batches"]
    assert json.loads(create.content) == {"items": items(3), "name": "catalogue"}
    assert "idempotency-key" in create.headers


def test_a_manifest_file_is_uploaded_as_batch_manifest_then_named(
    client: Client, fake: FakeLeo, tmp_path: Path
):
    manifest = write_manifest(tmp_path / "prompts.jsonl", items(4))

    batch = client.create_batch_from_file(manifest, name="from file", complete_within_hours=6)

    [upload] = fake.uploads.values()
    assert (upload["purpose"], upload["content_type"]) == ("batch_manifest", "application/jsonl")
    [create] = [r for r in fake.requests if r.url.path == "/v1/batches"]
    assert json.loads(create.content) == {
        "manifest_upload_id": upload["id"],
        "name": "from file",
        "complete_within_hours": 6,
    }
    assert batch.items == 4


def test_invalid_lines_refuse_the_batch_with_a_report_of_each(client: Client, fake: FakeLeo, tmp_path: Path):
    lines: list[object] = [*items(2), {"custom_id": "no-prompt"}, "not json", items(1)[0]]
    manifest = write_manifest(tmp_path / "prompts.jsonl", lines)

    with pytest.raises(BatchInvalidError) as raised:
        client.create_batch_from_file(manifest)

    refusal = raised.value
    assert (refusal.status, refusal.code) == (422, "batch_invalid")
    assert (refusal.valid, refusal.invalid, refusal.truncated) == (2, 3, False)
    assert [(line.line, line.custom_id, line.code) for line in refusal.lines] == [
        (3, "no-prompt", "validation_error"),
        (4, None, "malformed_json"),
        (5, "item-0", "duplicate_custom_id"),
    ]
    assert fake.batches == {}


def test_skip_invalid_accepts_the_valid_lines(client: Client, tmp_path: Path):
    manifest = write_manifest(tmp_path / "prompts.jsonl", [*items(3), {"custom_id": "bad"}])

    batch = client.create_batch_from_file(manifest, skip_invalid=True)

    assert (batch.items, batch.skipped) == (3, 1)


def test_a_repeated_idempotency_key_returns_the_original_batch(client: Client, fake: FakeLeo):
    first = client.create_batch(items(2), idempotency_key="nightly-2026-12-04")
    again = client.create_batch(items(2), idempotency_key="nightly-2026-12-04")

    assert again.id == first.id
    assert len(fake.batches) == 1


def test_a_lost_answer_to_a_create_is_replayed_not_doubled(client: Client, fake: FakeLeo):
    fake.inject("POST /v1/batches", "lose")

    batch = client.create_batch(items(2))

    assert list(fake.batches) == [batch.id]


def test_batches_lists_every_page(client: Client, fake: FakeLeo):
    ids = [client.create_batch(items(1)).id for _ in range(5)]

    assert [b.id for b in client.batches(page_size=2)] == ids[::-1]
    assert len([r for r in fake.requests if r.method == "GET" and r.url.path == "/v1/batches"]) == 3


def test_results_come_in_manifest_order_across_pages(client: Client, fake: FakeLeo):
    batch = client.create_batch(items(7))
    client.wait_batch(batch.id)

    results = list(client.batch_results(batch.id, page_size=3))

    assert [r.custom_id for r in results] == [f"item-{i}" for i in range(7)]
    assert [r.line for r in results] == list(range(1, 8))
    assert all(r.status == "COMPLETE" and len(r.images) == 1 for r in results)
    pages = [r for r in fake.requests if r.url.path.endswith("/results")]
    assert len(pages) == 3


def test_each_items_job_names_its_batch_and_line(client: Client):
    batch = client.create_batch(items(2))

    [_, second] = client.batch_results(batch.id)
    job = client.get(str(second.job_id))

    assert job.batch is not None
    assert (job.batch.batch_id, job.batch.custom_id, job.batch.line) == (batch.id, "item-1", 2)


def test_results_are_partial_while_the_batch_runs(client: Client):
    batch = client.create_batch(items(2))

    assert [(r.status, r.images) for r in client.batch_results(batch.id)] == [("QUEUED", []), ("QUEUED", [])]


def test_wait_batch_polls_until_complete_and_watch_shows_progress(client: Client, clock: FakeClock):
    batch = client.create_batch([*items(2), {"custom_id": "doomed", "prompt": "FAIL"}])

    views = list(client.watch_batch(batch.id))

    assert [v.status for v in views] == ["RUNNING", "RUNNING", "COMPLETE"]
    assert views[-1].counts["COMPLETE"] == 2 and views[-1].failed == 1
    assert views[-1].done == 3


def test_cancel_stops_waiting_items(client: Client):
    batch = client.create_batch(items(3))

    cancelling = client.cancel_batch(batch.id)
    ended = client.wait_batch(batch.id)

    assert cancelling.status == "CANCELLING"
    assert (ended.status, ended.counts["CANCELLED"]) == ("CANCELLED", 3)


def test_an_ended_batch_is_not_cancellable(client: Client):
    batch = client.create_batch(items(1))
    client.wait_batch(batch.id)

    with pytest.raises(ConflictError) as raised:
        client.cancel_batch(batch.id)

    assert (raised.value.status, raised.value.code) == (409, "not_cancellable")


def test_another_users_batch_is_not_found(client: Client, fake: FakeLeo):
    bob = Client(API, token="t-bob", transport=httpx.MockTransport(fake.handler))
    theirs = bob.create_batch(items(1))

    with pytest.raises(NotFoundError) as raised:
        client.get_batch(theirs.id)

    assert raised.value.code == "not_found"
    with pytest.raises(NotFoundError):
        client.cancel_batch(theirs.id)


def test_downloading_results_twice_fetches_nothing_the_second_time(
    client: Client, fake: FakeLeo, tmp_path: Path
):
    batch = client.create_batch(items(5, num_images=2))
    client.wait_batch(batch.id)

    first = list(client.download_batch_results(batch.id, tmp_path, page_size=2))
    second = list(client.download_batch_results(batch.id, tmp_path, page_size=2))

    assert [r.action for r in first] == ["downloaded"] * 10
    assert [r.action for r in second] == ["skipped"] * 10
    assert fake.cdn_gets == 10
    assert len(list(tmp_path.iterdir())) == 10
