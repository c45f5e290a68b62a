"""One table format for every bench: a figure, its target, pass or fail; raw figures as JSON.

A bench builds a `Report`, adds one `Figure` per measured quantity and calls `Report.finish()`,
which prints the table and writes `<results dir>/<bench>.json` (default `bench/results/`, set by
`--results` on `bench/run.py` or BENCH_RESULTS). `bench/run.py` runs a set of benches and prints
their figures as one table from those files. Targets are checked here, never in tests: the figures
are ratios measured in one run on one machine, and a missed target is a finding to fix.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Figure:
    """One measured figure. `target` is a comparison such as "<= 1.5" or ">= 0.95", or None."""

    name: str
    value: float | int | str | None
    unit: str = ""
    target: str | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        """ "pass", "FAIL", or "" when there is no target (or no value to check)."""
        if self.target is None or not isinstance(self.value, int | float):
            return ""
        op, limit = self._target()
        ok = {
            "<=": self.value <= limit,
            ">=": self.value >= limit,
            "<": self.value < limit,
            ">": self.value > limit,
        }
        if op not in ok:
            raise ValueError(f"unknown target {self.target!r}")
        return "pass" if ok[op] else "FAIL"

    def _target(self) -> tuple[str, float]:
        op, _, bound = (self.target or "").partition(" ")
        return op, float(bound)

    def shown(self) -> str:
        if self.value is None:
            return "-"
        if not isinstance(self.value, float):
            return str(self.value)
        text = f"{self.value:.3g}" if abs(self.value) < 100 else f"{self.value:.0f}"
        if self.target is None:
            return text
        # A value rounded onto its target's bound would read as meeting it (2.0002 shown as "2" beside
        # "<= 2.0" and FAIL): show the digits that decide.
        limit = self._target()[1]
        digits = 3
        while float(text) == limit != self.value and digits < 12:
            digits += 1
            text = f"{self.value:.{digits}g}"
        return text


@dataclass
class Report:
    bench: str
    parameters: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)  # anything else worth comparing across runs

    def add(
        self,
        name: str,
        value: float | int | str | None,
        unit: str = "",
        target: str | None = None,
        note: str = "",
    ) -> Figure:
        figure = Figure(name, value, unit, target, note)
        self.figures.append(figure)
        return figure

    @property
    def failed(self) -> list[Figure]:
        return [f for f in self.figures if f.verdict == "FAIL"]

    def finish(self, results: Path | str | None = None, *, quiet: bool = False) -> Path:
        """Print the table and write the JSON; returns the JSON's path."""
        directory = Path(results or os.environ.get("BENCH_RESULTS") or DEFAULT_RESULTS)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.bench}.json"
        document = {
            "bench": self.bench,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "parameters": self.parameters,
            "figures": [asdict(f) | {"verdict": f.verdict} for f in self.figures],
            "raw": self.raw,
        }
        path.write_text(json.dumps(document, indent=2, default=str) + "\n")
        if not quiet:
            print(table([(self.bench, f) for f in self.figures]))
            print(f"raw figures: {path}")
        return path


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def table(rows: Iterable[tuple[str, Figure]]) -> str:
    """A fixed-width table: bench, figure, value, unit, target, verdict, note."""
    header = ("bench", "figure", "value", "unit", "target", "", "note")
    lines = [header] + [
        (bench, f.name, f.shown(), f.unit, f.target or "", f.verdict, f.note) for bench, f in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = []
    for n, line in enumerate(lines):
        cells = [
            cell.ljust(widths[i]) if i != 2 else cell.rjust(widths[i]) for i, cell in enumerate(line[:-1])
        ]
        out.append("  ".join([*cells, line[-1]]).rstrip())
        if n == 0:
            out.append("-" * len(out[0]))
    return "\n".join(out)


def load(path: Path) -> Report:
    document = json.loads(path.read_text())
    report = Report(document["bench"], document.get("parameters", {}), raw=document.get("raw", {}))
    for f in document["figures"]:
        report.figures.append(Figure(f["name"], f["value"], f["unit"], f["target"], f.get("note", "")))
    return report


# ----- small statistics every bench needs --------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def quiet_handlers() -> None:
    """For a bench that calls handlers in-process: no tracing, no metrics flushes, no instance
    metadata lookups (set before the handlers' modules are imported)."""
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def setup_paths() -> None:
    """Make the layer, the local stack and the repo importable, as the Makefile's PYTHONPATH does."""
    for sub in ("layers/core", "local", "."):
        if str(ROOT / sub) not in sys.path:
            sys.path.insert(0, str(ROOT / sub))
