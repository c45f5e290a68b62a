"""Run a set of benches, each in its own process, and print their figures as one table.

    .venv/bin/python bench/run.py            # the quick set (`make bench`): minutes
    .venv/bin/python bench/run.py --set long # the long forms (`make bench-long`)
    .venv/bin/python bench/run.py --set smoke # bounded forms: they run and print a table (CI)

Each bench is a plain script under bench/ with its own --help; this runner only passes it the
arguments of the chosen set and reads back the JSON it writes (bench/report.py). It exits 1 when
a bench crashed or printed no figures; a missed target is reported, not an exit status: timings
on shared machines are noisy, and a missed ratio is a finding to fix, not a reason to gate CI.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import DEFAULT_RESULTS, ROOT, load, table


@dataclass(frozen=True)
class Bench:
    name: str  # the JSON it writes: <results>/<name>.json
    script: str
    quick: tuple[str, ...] | None  # None: not in that set
    long: tuple[str, ...] | None
    smoke: tuple[str, ...] | None


BENCHES = (
    Bench(
        "slots",
        "bench/slots.py",
        quick=(),
        long=("--jobs", "1000", "--pending", "0.2"),
        smoke=("--jobs", "20", "--pending", "1", "--dropped-jobs", "10"),
    ),
    Bench("uploads", "bench/uploads.py", quick=(), long=None, smoke=("--cases", "2")),
    Bench(
        "cold_start",
        "bench/cold_start.py",
        quick=("--samples", "9"),
        long=("--samples", "21"),
        smoke=("--samples", "1"),
    ),
    Bench(
        "api",
        "bench/api.py",
        quick=(),
        long=("--long", "5000", "--rounds", "50", "--create-rounds", "20"),
        smoke=("--short", "10", "--long", "50", "--page", "10", "--rounds", "10", "--create-rounds", "10"),
    ),
    Bench("webhook", "bench/webhook.py", quick=(), long=("--rounds", "10000"), smoke=("--rounds", "100")),
    Bench(
        "output_copy",
        "bench/output_copy.py",
        quick=(),
        long=("--rounds", "9", "--default-config-rounds", "2"),
        smoke=("--mb", "20", "--rounds", "1"),
    ),
    Bench("batch", "bench/batch.py", quick=("--items", "1000"), long=(), smoke=("--items", "200")),
    Bench("realtime", "bench/realtime.py", quick=(), long=("--rounds", "2000"), smoke=("--rounds", "20")),
    # The long chaos form: 2,000 jobs under the full fault mix, deadline / drain >= 1.5 for each seed
    # (about 12 minutes a seed; `make chaos` runs one). CI runs its 200-job form as a test (tests/chaos).
    *(
        Bench(
            f"chaos_seed{seed}",
            "bench/chaos.py",
            quick=None,
            long=("--jobs", "2000", "--seed", seed),
            smoke=None,
        )
        for seed in ("7", "13", "42")
    ),
)


def run(names: list[str] | None, which: str, results: Path) -> int:
    chosen = [b for b in BENCHES if getattr(b, which) is not None and (not names or b.name in names)]
    env = os.environ | {"BENCH_RESULTS": str(results)}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "layers/core"), str(ROOT / "local"), str(ROOT), env.get("PYTHONPATH", "")]
    )
    broken = []
    rows = []
    for bench in chosen:
        (results / f"{bench.name}.json").unlink(missing_ok=True)
        args = [sys.executable, str(ROOT / bench.script), *getattr(bench, which)]
        print(f"== {bench.name}: {' '.join(args[1:])}", flush=True)
        started = time.monotonic()
        code = subprocess.call(args, cwd=ROOT, env=env)  # noqa: S603 (our own bench scripts)
        print(f"== {bench.name}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        path = results / f"{bench.name}.json"
        if not path.exists():
            broken.append(f"{bench.name} (exit {code}, no JSON)")
            continue
        report = load(path)  # a bench that failed its own checks (chaos: an invariant) still has figures
        if code != 0 or not report.figures:
            broken.append(f"{bench.name} (exit {code}, {len(report.figures)} figures)")
        rows += [(bench.name, f) for f in report.figures]
    print()
    print(table(rows))
    missed = [f"{name}: {f.name}" for name, f in rows if f.verdict == "FAIL"]
    if missed:
        # 20 jobs, 1 sample, 100 callbacks: enough to show each bench runs, too few to judge a target.
        bounded = (
            " in the bounded forms, which only show that each bench runs"
            " (too few samples to judge a target; `make bench` judges them)"
        )
        print(f"\n{len(missed)} target(s) missed{bounded if which == 'smoke' else ''}: " + "; ".join(missed))
    if broken:
        print(f"\nbench(es) that failed or printed no figures: {', '.join(broken)}")
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", dest="which", choices=("quick", "long", "smoke"), default="quick")
    parser.add_argument("--only", nargs="*", help="bench names to run (default: the whole set)")
    parser.add_argument(
        "--results", type=Path, default=None, help=f"where JSON goes (default {DEFAULT_RESULTS})"
    )
    args = parser.parse_args()
    if args.results is None and args.which == "smoke":
        args.results = Path(tempfile.mkdtemp(prefix="bench-smoke-"))
    results = args.results or DEFAULT_RESULTS
    results.mkdir(parents=True, exist_ok=True)
    sys.exit(run(args.only, args.which, results))


if __name__ == "__main__":
    main()
