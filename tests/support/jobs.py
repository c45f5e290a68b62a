"""Waiting on a job over HTTP, as an app would: poll GET /v1/generations/{id} until a status."""

from __future__ import annotations

import time

from gencore.domain.models import TERMINAL

TERMINAL_STATUSES = frozenset(str(status) for status in TERMINAL)


def wait_for_status(
    api, headers: dict[str, str], job_id: str, wanted=TERMINAL_STATUSES, *, timeout: float = 45.0
) -> dict:
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = api.get(f"/v1/generations/{job_id}", headers=headers).json()
        if job["status"] in wanted:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {sorted(wanted)} in {timeout}s: {job}")
