"""Concurrency slots, the pending queue and the per-minute rate limits."""

from __future__ import annotations

import pytest

from .helpers import client, create, wait_done, wait_for

pytestmark = pytest.mark.integration


def test_jobs_queue_beyond_concurrency_and_429_when_queue_full(start_sim):
    sim = start_sim(max_concurrency=1, queue_limit=1, pending_seconds=0.3)
    with client(sim) as c:
        running = create(c)
        queued = create(c)
        stats = sim.stats()
        assert (stats["in_flight"], stats["queued"]) == (1, 1)
        refused = c.post("/generations", json={"prompt": "one too many"})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["code"] == "rate-limit-exceeded"
        assert sim.stats()["queue_rejected"] == 1
        assert wait_done(c, running)["status"] == "COMPLETE"
        # The queued job only starts once the slot frees up, so it is still pending.
        assert sim.generations[queued].status == "PENDING"
        assert wait_done(c, queued)["status"] == "COMPLETE"
        assert sim.generations[queued].updated_at > sim.generations[running].updated_at
        wait_for(lambda: sim.stats()["in_flight"] == 0)
        assert sim.stats()["queued"] == 0
        create(c)  # room again
    assert sim.stats()["generations_created"] == 3


def test_rate_limit_on_all_requests(start_sim):
    sim = start_sim(rate_limit_per_minute=3)
    with client(sim) as c:
        assert [c.get("/me").status_code for _ in range(3)] == [200] * 3
        limited = c.get("/me")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert set(limited.json()) == {"error", "path", "code"}
    assert sim.stats()["rate_limited"] == 1


def test_rate_limit_on_create_only_counts_creates(start_sim):
    sim = start_sim(create_rate_limit_per_minute=2)
    with client(sim) as c:
        create(c)
        create(c)
        limited = c.post("/generations", json={"prompt": "third"})
        assert limited.status_code == 429
        assert "retry-after" in limited.headers
        assert c.get("/me").status_code == 200
    assert sim.stats()["generations_created"] == 2


def test_rate_window_rolls(start_sim):
    sim = start_sim(rate_limit_per_minute=2, rate_limit_window_seconds=0.3)
    with client(sim) as c:
        assert [c.get("/me").status_code for _ in range(3)] == [200, 200, 429]
        wait_for(lambda: c.get("/me").status_code == 200, timeout=3)
