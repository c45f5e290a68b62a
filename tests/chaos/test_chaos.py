"""The chaos scenario of bench/chaos.py in its CI size: 200 jobs through the local stack over HTTP
while the simulator drops, duplicates and delays callbacks, answers 429/500 and fails generations,
hides created generations behind 5xx, unreadable and too-slow answers to the paid POST, 3% of
submitter invocations die between that POST and its record, 5% of processor invocations crash
before, during or after copying outputs, and users share prompts (and some seeds).

Run it in its own pytest process (moto keeps state per process; other suites reset it):

    .venv/bin/python -m pytest -m chaos -q

CHAOS_JOBS / CHAOS_SEED change the size and the seed.
"""

from __future__ import annotations

import os

import pytest

from bench.chaos import run

pytestmark = pytest.mark.chaos

JOBS = int(os.environ.get("CHAOS_JOBS", "200"))
SEED = int(os.environ.get("CHAOS_SEED", "7"))


@pytest.fixture(scope="module")
def report():
    return run(JOBS, SEED, log=print)


@pytest.mark.timeout(900)
def test_every_invariant_holds_under_chaos(report):
    print(report.table())
    assert report.accepted == JOBS, report.table()
    assert report.ok, report.table()


@pytest.mark.timeout(60)
def test_the_faults_were_really_injected(report):
    """A chaos run that injected nothing proves nothing: each kind of fault must have happened."""
    sim = report.simulator
    for counter in (
        "callbacks_dropped",
        "callbacks_duplicated",
        "callbacks_delayed",
        "injected_429",
        "injected_5xx_after_create",
        "injected_malformed_create",
        "injected_slow_answers",
    ):
        assert sim.get(counter, 0) > 0, (counter, sim)
    assert report.submitter_crashes > 0, report.table()
    assert report.failed_by_code.get("generation_failed", 0) > 0, report.table()
    assert sum(report.crashes_fired.values()) > 0, report.table()


@pytest.mark.timeout(60)
def test_the_run_reports_its_headroom_in_the_bench_table(report):
    """`bench/run.py --set long` reads the run back from its JSON: the same verdicts as the checks above."""
    from bench.chaos import Scenario, figures

    deadline = Scenario(jobs=JOBS, seed=SEED).deadline
    shown = {f.name: f for f in figures(report, deadline).figures}

    assert shown["invariant violations"].verdict == "pass"
    assert shown["jobs not terminal at the deadline"].verdict == "pass"
    headroom = shown["deadline / drain"]
    assert headroom.value == pytest.approx(deadline / report.drain_seconds)
    assert headroom.target == ">= 1.5"
