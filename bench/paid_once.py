"""The review's scenario from issue 9, as a benchmark: does one accepted job pay for one generation?

    .venv/bin/python bench/paid_once.py [--jobs 40] [--seed 7]

The local stack, 40 jobs from four users, while the simulator cuts 25 % of its 2xx bodies in half
*after* acting on the request (the paid POST included), answers 5 % 429 and 3 % 500, and drops
10 % of callbacks. On the stop-7 code this scenario produced 55 paid generations for 40 jobs (an
unreadable answer to the POST was read as "busy" and the job was sent again). The table counts
what Leonardo created against what was accepted; every chaos invariant is checked as well.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.chaos import Scenario, _quiet_runner_warnings, run
from leonardo_simulator import FaultConfig


@dataclass(frozen=True)
class ReviewScenario(Scenario):
    def faults(self) -> FaultConfig:
        return FaultConfig(
            seed=self.seed,
            malformed_json_rate=0.25,
            http_429_rate=0.05,
            http_5xx_rate=0.03,
            drop_callback_rate=0.10,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    scenario = ReviewScenario(jobs=args.jobs, seed=args.seed, users=4, crash_rate=0.0, submit_crash_rate=0.0)
    with _quiet_runner_warnings(), redirect_stdout(sys.stderr):
        report = run(args.jobs, args.seed, scenario=scenario)
    sim = report.simulator
    rows = [
        ("jobs accepted", str(report.accepted)),
        ("COMPLETE / FAILED", f"{report.statuses.get('COMPLETE', 0)} / {report.statuses.get('FAILED', 0)}"),
        ("paid generations (simulator)", str(sim.get("generations_created", 0))),
        (
            "generations per job",
            ", ".join(f"{k}x: {v}" for k, v in sorted(report.generations_per_job.items())),
        ),
        ("generations no job owns", str(report.orphan_generations)),
        ("2xx bodies cut after acting", str(sim.get("injected_malformed_json", 0))),
        ("429 / 500 injected", f"{sim.get('injected_429', 0)} / {sim.get('injected_5xx', 0)}"),
        ("callbacks dropped", str(sim.get("callbacks_dropped", 0))),
        ("invariants", "all hold" if report.ok else f"{len(report.violations)} violation(s)"),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"Paid once: {args.jobs} jobs, seed {args.seed}, the review's fault mix")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    for violation in report.violations[:20]:
        print(f"  - {violation}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
