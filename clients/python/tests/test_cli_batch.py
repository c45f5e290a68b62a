"""`leo batch`: submit uploads the manifest and watches the batch to its end; results print JSONL or
download every image, resumably; cancel; exit 3 when items failed or the batch was cancelled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Leo
from fake_leo import FakeLeo


def manifest(path: Path, n: int, *extra: dict[str, object]) -> str:
    lines = [{"custom_id": f"sku-{i:03d}", "prompt": f"product shot {i}", "num_images": 2} for i in range(n)]
    path.write_text("".join(json.dumps(line) + "\n" for line in [*lines, *extra]))
    return str(path)


def test_submit_uploads_the_manifest_and_watches_to_the_end(leo: Leo, fake: FakeLeo, tmp_path: Path):
    run = leo("batch", "submit", manifest(tmp_path / "prompts.jsonl", 4), "--name", "catalogue")

    assert run.code == 0
    [upload] = fake.uploads.values()
    assert upload["purpose"] == "batch_manifest"
    [batch] = fake.batches.values()
    assert batch.name == "catalogue"
    assert f"batch {batch.id}: 4 items" in run.err
    # the live display ends on the final counts, then one summary line on stdout
    assert "COMPLETE 4" in run.err and "eta" in run.err and "rate" in run.err
    assert run.out.strip() == f"batch {batch.id} COMPLETE: COMPLETE 4"


def test_submit_json_prints_the_final_batch_only(leo: Leo, tmp_path: Path):
    run = leo("batch", "submit", manifest(tmp_path / "prompts.jsonl", 3), "--json")

    view = json.loads(run.out)
    assert (view["status"], view["counts"]["COMPLETE"]) == ("COMPLETE", 3)
    assert run.err == ""


def test_no_watch_prints_the_batch_id_and_returns(leo: Leo, fake: FakeLeo, tmp_path: Path):
    run = leo("batch", "submit", manifest(tmp_path / "prompts.jsonl", 3), "--no-watch")

    [batch] = fake.batches.values()
    assert (run.code, run.out.strip()) == (0, batch.id)
    assert all(job.status == "QUEUED" for job in fake.jobs.values())


def test_invalid_lines_are_reported_one_per_line(leo: Leo, fake: FakeLeo, tmp_path: Path):
    path = manifest(
        tmp_path / "prompts.jsonl", 2, {"custom_id": "sku-bad"}, {"custom_id": "sku-000", "prompt": "x"}
    )

    run = leo("batch", "submit", path)

    assert run.code == 1
    assert run.err.splitlines() == [
        "error: batch_invalid: 2 invalid lines",
        "  2 valid, 2 invalid lines:",
        "  line 3 (sku-bad): validation_error: prompt: field required",
        "  line 4 (sku-000): duplicate_custom_id: custom_id 'sku-000' appears twice",
    ]
    assert fake.batches == {}


def test_skip_invalid_starts_the_valid_lines(leo: Leo, tmp_path: Path):
    path = manifest(tmp_path / "prompts.jsonl", 2, {"custom_id": "sku-bad"})

    run = leo("batch", "submit", path, "--skip-invalid", "--json")

    view = json.loads(run.out)
    assert (run.code, view["items"], view["skipped"]) == (0, 2, 1)


def test_a_batch_with_failed_items_exits_3(leo: Leo, tmp_path: Path):
    path = manifest(tmp_path / "prompts.jsonl", 2, {"custom_id": "doomed", "prompt": "FAIL"})

    run = leo("batch", "submit", path)

    assert run.code == 3
    assert run.err.splitlines()[-1] == "error: items_failed: 1 items ended FAILED or CANCELLED"


def test_in_a_terminal_the_progress_is_live(leo: Leo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats stderr as a terminal

    run = leo("batch", "submit", manifest(tmp_path / "prompts.jsonl", 3))

    assert run.code == 0
    assert "\x1b[?25l" in run.err  # the live display hid the cursor while redrawing
    assert run.err.count("QUEUED") >= 2  # redrawn as the counts moved
    assert "COMPLETE 3" in run.err


def test_watch_follows_an_existing_batch(leo: Leo, tmp_path: Path):
    leo("batch", "submit", manifest(tmp_path / "prompts.jsonl", 2), "--no-watch")
    [batch_id] = leo.fake.batches

    run = leo("batch", "watch", batch_id, "--json")

    assert (run.code, json.loads(run.out)["status"]) == (0, "COMPLETE")


def test_results_print_jsonl_in_manifest_order(leo: Leo, tmp_path: Path):
    leo("batch", "submit", manifest(tmp_path / "prompts.jsonl", 5), "--json")
    [batch_id] = leo.fake.batches

    run = leo("batch", "results", batch_id, "--page-size", "2")

    lines = [json.loads(line) for line in run.out.splitlines()]
    assert [line["custom_id"] for line in lines] == [f"sku-{i:03d}" for i in range(5)]
    assert all(len(line["images"]) == 2 for line in lines)


def test_results_download_twice_downloads_nothing_the_second_time(leo: Leo, tmp_path: Path):
    leo("batch", "submit", manifest(tmp_path / "prompts.jsonl", 5), "--json")
    [batch_id] = leo.fake.batches

    first = leo(
        "batch", "results", batch_id, "--download", "out", "--page-size", "2", "--parallel", "3", "--json"
    )
    second = leo("batch", "results", batch_id, "--download", "out", "--page-size", "2", "--json")

    assert (first.code, second.code) == (0, 0)
    assert (json.loads(first.out)["downloaded"], json.loads(first.out)["skipped"]) == (10, 0)
    assert (json.loads(second.out)["downloaded"], json.loads(second.out)["skipped"]) == (0, 10)
    # reported in manifest order whatever order the parallel downloads ended in
    in_manifest_order = [
        (job_id, index) for _, _, job_id in leo.fake.batches[batch_id].lines for index in (0, 1)
    ]
    assert [(f["job_id"], f["index"]) for f in json.loads(first.out)["files"]] == in_manifest_order
    assert leo.fake.cdn_gets == 10
    assert len(list((tmp_path / "out").iterdir())) == 10


def test_results_download_reports_in_words_without_json(leo: Leo, tmp_path: Path):
    leo("batch", "submit", manifest(tmp_path / "prompts.jsonl", 1), "--json")
    [batch_id] = leo.fake.batches

    leo("batch", "results", batch_id, "--download", "out")
    again = leo("batch", "results", batch_id, "--download", "out")

    assert again.out.strip() == "0 downloaded, 2 already complete, 0 withheld; items: COMPLETE 1"


def test_cancel_then_watch_exits_3(leo: Leo, tmp_path: Path):
    leo("batch", "submit", manifest(tmp_path / "prompts.jsonl", 3), "--no-watch")
    [batch_id] = leo.fake.batches

    cancelled = leo("batch", "cancel", batch_id)
    watched = leo("batch", "watch", batch_id)

    assert (cancelled.code, cancelled.out.strip()) == (0, f"batch {batch_id} CANCELLING")
    assert watched.code == 3
    assert watched.err.splitlines()[-1] == f"error: batch_cancelled: batch {batch_id} was cancelled"


def test_list_and_get(leo: Leo, tmp_path: Path):
    leo("batch", "submit", manifest(tmp_path / "prompts.jsonl", 1), "--no-watch", "--name", "one")
    [batch_id] = leo.fake.batches

    listed = leo("batch", "list", "--json")
    shown = leo("batch", "get", batch_id, "--json")

    assert [b["name"] for b in json.loads(listed.out)] == ["one"]
    assert json.loads(shown.out)["id"] == batch_id


def test_another_users_batch_is_not_found(leo: Leo, fake: FakeLeo):
    run = leo("batch", "cancel", "00000000-0000-4000-8000-000000000000")

    assert (run.code, run.err) == (1, "error: not_found: no such batch\n")
