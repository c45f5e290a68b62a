"""Plans on the whole local stack, over HTTP only: a `free` user (the shipped plan: 450 credits a day,
15 per 512x512 image) is stopped at the daily budget with 402 while a `pro` user goes on; the
request rate answers 429 with Retry-After on the way, and the caller's usage adds up."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.e2e
JOB = {"width": 512, "height": 512, "num_images": 1}


def post_until_refused(
    api: httpx.Client, headers: dict, *, deadline_s: float = 60
) -> tuple[int, httpx.Response]:
    """POST distinct jobs, waiting out 429s, until the plan refuses one for good; returns how many were
    accepted and the refusal."""
    accepted, n, ends = 0, 0, time.monotonic() + deadline_s
    while time.monotonic() < ends:
        answer = api.post("/v1/generations", json={"prompt": f"a paper crane {n}"} | JOB, headers=headers)
        if answer.status_code == 429:  # rate_limited (Retry-After) or too_many_waiting (jobs start soon)
            time.sleep(float(answer.headers.get("retry-after", "0.5")))
            continue
        if answer.status_code != 202:
            return accepted, answer
        accepted, n = accepted + 1, n + 1
    raise AssertionError(f"never refused: {accepted} accepted")


def test_a_free_user_is_stopped_at_the_daily_budget_while_a_pro_user_goes_on(api, token_for):
    free = {"authorization": f"Bearer {token_for(f'free-{uuid.uuid4().hex[:8]}', plan='free')}"}
    pro = {"authorization": f"Bearer {token_for(f'pro-{uuid.uuid4().hex[:8]}', plan='pro')}"}

    accepted, refusal = post_until_refused(api, free)
    assert refusal.status_code == 402, refusal.text
    error = refusal.json()["error"]
    assert error["code"] == "budget_exceeded" and error["details"][0]["period"] == "day"
    assert accepted == 30  # 450 credits at 15 each: a few dozen small jobs, as the README says

    usage = api.get("/v1/usage", headers=free).json()
    assert usage["plan"] == "free" and usage["day"]["budget"] == "450" and usage["day"]["remaining"] == "0"

    answer = api.post("/v1/generations", json={"prompt": "a paper crane"} | JOB, headers=pro)
    assert answer.status_code == 202, answer.text
    assert api.get("/v1/usage", headers=pro).json()["plan"] == "pro"
