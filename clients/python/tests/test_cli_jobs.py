"""`leo generate/get/history/upload`: human output by default, JSON only with --json, one error line
on stderr, and the documented exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import Leo
from fake_leo import FakeLeo, image_bytes


def test_generate_waits_and_downloads_into_out(leo: Leo, tmp_path: Path):
    run = leo(
        "generate", "a lighthouse", "--width", "512", "--height", "512", "--num-images", "2", "--out", "imgs"
    )

    assert run.code == 0
    [job_id] = leo.fake.jobs
    assert sorted(p.name for p in (tmp_path / "imgs").iterdir()) == [f"{job_id}_0.png", f"{job_id}_1.png"]
    assert (tmp_path / "imgs" / f"{job_id}_0.png").read_bytes() == image_bytes(job_id, 0)
    assert "COMPLETE" in run.out and f"downloaded imgs/{job_id}_1.png" in run.out


def test_generate_sends_the_options_as_request_fields(leo: Leo):
    leo("generate", "a castle", "--model", "b24e16ff", "--quality", "draft", "--seed", "7")

    [job] = leo.fake.jobs.values()
    assert job.request == {"prompt": "a castle", "model_id": "b24e16ff", "quality": "draft", "seed": 7}


def test_generate_json_prints_only_the_job_and_files(leo: Leo):
    run = leo("generate", "a lighthouse", "--json", "--out", "imgs")

    document = json.loads(run.out)
    assert document["job"]["status"] == "COMPLETE"
    assert [(f["index"], f["action"]) for f in document["files"]] == [(0, "downloaded")]
    assert run.err == ""


def test_a_failed_job_exits_3_with_its_code(leo: Leo):
    run = leo("generate", "please FAIL")

    assert run.code == 3
    assert run.err.splitlines()[-1] == "error: generation_failed: Leonardo reported the generation failed"


def test_a_cancelled_job_exits_3(leo: Leo, fake: FakeLeo):
    job = fake.new_job("alice", {"prompt": "never mind"})
    job.status = "CANCELLED"
    fake.inject("POST /v1/generations", httpx.Response(202, json=job.view()))

    run = leo("generate", "never mind")

    assert run.code == 3
    assert run.err.splitlines()[-1] == f"error: job_cancelled: job {job.id} ended CANCELLED"


def test_a_job_still_running_at_the_timeout_exits_4(leo: Leo):
    run = leo("generate", "a lighthouse", "--timeout", "0.5")

    assert run.code == 4
    assert "error: timeout: job " in run.err


def test_get_shows_one_job(leo: Leo, fake: FakeLeo):
    job = fake.new_job("alice", {"prompt": "a lighthouse"})

    human = leo("get", job.id)
    machine = leo("get", job.id, "--json")

    assert human.code == 0 and job.id in human.out
    assert json.loads(machine.out)["id"] == job.id


def test_an_api_error_exits_1_as_one_readable_line(leo: Leo):
    run = leo("get", "no-such-job")

    assert run.code == 1
    assert run.err == "error: not_found: no such job\n"


def test_with_json_the_error_envelope_also_goes_to_stdout(leo: Leo):
    run = leo("--json", "get", "no-such-job")

    assert json.loads(run.out) == {"error": {"code": "not_found", "message": "no such job"}}


def test_a_refused_token_is_unauthorized(leo: Leo, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LEO_TOKEN", "forged")

    run = leo("history")

    assert (run.code, run.err) == (1, "error: unauthorized: Unauthorized\n")


def test_history_lists_the_latest_jobs(leo: Leo, fake: FakeLeo):
    ids = [fake.new_job("alice", {"prompt": f"p{n}"}).id for n in range(30)]

    run = leo("history", "--limit", "25", "--json")

    assert [job["id"] for job in json.loads(run.out)] == ids[::-1][:25]


def test_upload_prints_the_ready_upload(leo: Leo, tmp_path: Path):
    source = tmp_path / "source.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8)

    run = leo("upload", str(source), "--json")

    assert run.code == 0
    assert json.loads(run.out)["status"] == "READY"


def test_ctrl_c_exits_130(leo: Leo, fake: FakeLeo):
    fake.inject("GET /v1/generations", KeyboardInterrupt())

    run = leo("history")

    assert run.code == 130
    assert "interrupted" in run.err
