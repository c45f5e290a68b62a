"""Batches end to end on the local stack, driven through the Python client and the `leo` command line:
a 500-line JSONL manifest with 10 bad lines (refused with the exact report, then accepted with
skip_invalid), every valid item COMPLETE, results in manifest order, `leo batch results --download`
twice (the second run downloads nothing), and a cancel mid-run that releases the waiting items."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from leoclient import BatchInvalidError, Client

pytestmark = pytest.mark.e2e

LINES = 500
# (line number, what makes it bad, the code the report gives it)
BAD = {
    7: ("width", 100, "validation_error"),  # not a multiple of 8
    42: ("num_images", 0, "validation_error"),
    99: ("prompt", "", "validation_error"),
    123: ("custom_id", "item-0001", "duplicate_custom_id"),
    200: ("custom_id", None, "missing_custom_id"),
    256: ("custom_id", "not a valid id!", "invalid_custom_id"),
    300: ("raw", "{not json", "malformed_json"),
    333: ("raw", "[1, 2]", "malformed_json"),
    404: ("height", 99999, "validation_error"),
    450: ("bogus_field", True, "validation_error"),
}


def manifest(path: Path) -> Path:
    lines = []
    for number in range(1, LINES + 1):
        item = {"custom_id": f"item-{number:04d}", "prompt": f"a lighthouse, study {number}", "width": 256,
                "height": 256, "num_images": 1}  # fmt: skip
        if number in BAD:
            field, value, _ = BAD[number]
            if field == "raw":
                lines.append(value)
                continue
            if value is None:
                item.pop(field)
            else:
                item[field] = value
        lines.append(json.dumps(item))
    path.write_text("\n".join(lines) + "\n")
    return path


def leo(*args: str, api_url: str, token: str, home: Path) -> subprocess.CompletedProcess[str]:
    """The installed `leo`, configured by environment only (no profile file: a fresh HOME)."""
    env = os.environ | {
        "LEO_API_URL": api_url,
        "LEO_TOKEN": token,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
    }
    command = [str(Path(sys.executable).parent / "leo"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)  # noqa: S603 (our own CLI)


@pytest.mark.timeout(900)
def test_a_500_line_manifest_with_bad_lines_end_to_end(stack, token_for, tmp_path):
    token = token_for("batch-alice")
    with Client(stack.api_url, token=token, timeout=60) as client:
        path = manifest(tmp_path / "prompts.jsonl")
        upload = client.upload_file(path, purpose="batch_manifest")
        assert upload.status == "READY"

        with pytest.raises(BatchInvalidError) as refused:
            client.create_batch(manifest_upload_id=upload.id)
        report = sorted((line.line, line.code) for line in refused.value.lines)
        assert report == sorted((number, code) for number, (_, _, code) in BAD.items())
        assert client.list_batches_page().batches == []  # nothing was started

        batch = client.create_batch(manifest_upload_id=upload.id, skip_invalid=True, name="lighthouses")
        assert (batch.items, batch.skipped) == (LINES - len(BAD), len(BAD))
        done = client.wait_batch(batch.id, timeout=900)
        assert done.status == "COMPLETE"
        assert done.counts["COMPLETE"] == LINES - len(BAD)
        assert Decimal(done.credits.reserved) == 0

        results = list(client.batch_results(batch.id))
        valid = [n for n in range(1, LINES + 1) if n not in BAD]
        assert [r.line for r in results] == valid  # manifest order
        assert all(r.status == "COMPLETE" and r.images for r in results)

    out = tmp_path / "out"
    run = {"api_url": stack.api_url, "token": token, "home": tmp_path}
    first = leo("batch", "results", batch.id, "--download", str(out), "--json", **run)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["downloaded"] == LINES - len(BAD)
    second = leo("batch", "results", batch.id, "--download", str(out), "--json", **run)
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert (summary["downloaded"], summary["skipped"]) == (0, LINES - len(BAD))


@pytest.mark.timeout(400)
def test_cancel_mid_run_releases_the_waiting_items(stack, token_for):
    token = token_for("batch-bob")
    items = [
        {"custom_id": f"c-{n:03d}", "prompt": f"a harbour, study {n}", "width": 256, "height": 256}
        for n in range(120)
    ]
    with Client(stack.api_url, token=token, timeout=60) as client:
        batch = client.create_batch(items)
        deadline = time.monotonic() + 120
        while client.get_batch(batch.id).counts.get("COMPLETE", 0) < 5:  # some have run: cancel mid-run
            assert time.monotonic() < deadline
            time.sleep(0.2)
        cancelling = client.cancel_batch(batch.id)
        assert cancelling.status in ("CANCELLING", "CANCELLED")
        ended = client.wait_batch(batch.id, timeout=300)
        assert ended.status == "CANCELLED"
        counts = ended.counts
        assert counts["CANCELLED"] > 0 and counts["COMPLETE"] >= 5
        assert counts["COMPLETE"] + counts["CANCELLED"] + counts.get("FAILED", 0) == ended.created
        assert Decimal(ended.credits.reserved) == 0
        usage = client.usage()
        assert Decimal(usage.day.reserved) == 0
