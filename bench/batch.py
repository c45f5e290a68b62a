"""A batch of thousands through the local stack: submit, fan-out, makespan, calls per item, results.

    .venv/bin/python bench/batch.py --items 1000   # the quick form (a few minutes)
    .venv/bin/python bench/batch.py                # 10,000 items (bench-long; tens of minutes here)
    .venv/bin/python bench/batch.py --items 200    # the bounded form CI runs

One user writes a JSONL manifest of `--items` lines (seeded prompts), uploads it (`POST /v1/uploads`
purpose `batch_manifest`, the presigned form, `/complete`) and creates the batch from it with the
typed client, over HTTP, on a stack with the test clock (StackConfig.fast). Measured:

- **submit time**: the upload and the create, until the 202 (every line is checked at accept, so
  this grows with the manifest; API Gateway gives an integration 30 s, the target is 29 s);
- **fan-out time**: from the 202 until the batch's checkpoint says `created == items`;
- **fan-out memory**: each BatchFunction invocation runs in a child process of its own (the bench
  shadows the runtime's handler for that function only; the child loads functions/batch/app.py
  as the local runtime does, against the same moto, with the same environment), and reports its
  peak RSS during the handler over its RSS once initialised (module imported, `wiring.batch_worker()`
  built). The stack's own process cannot give that figure: the gateway, the simulator, every other
  function and the bench share it. The cost: this fan-out runs beside the stack, not inside its
  GIL, as it would on Lambda;
- **makespan**: from the 202 until the batch is COMPLETE, against the **concurrency bound** (items
  x generation seconds / LeonardoMaxConcurrency) and against **Leonardo's create-rate bound**
  (items / 100 a minute: Leonardo's real limit; this run raises the simulator's to
  `--create-rate` so the stack, not that limit, is what is measured);
- **Leonardo calls per item**: the simulator's request counters over the run, the job's own routes
  (POST, GET of its generation) per completed item; account-level calls in their own rows, per
  minute, as bench/slots.py counts them; and the generations read or fetched from the CDN more
  than once, with the time between their reads (the simulator's log, `readAt` and `downloadedAt`);
- **results read time**: every page of `GET /v1/batches/{id}/results` (JSONL, `X-Next-Cursor`).

`--budget-seconds` is the time the whole run (submit, makespan, results) is reported against; by
default it is sized from the bounds (see `default_budget`). A missed figure is shown as FAIL in the
table and is not an exit status. Raw figures go to bench/results/batch.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import ROOT, Report, percentile, setup_paths

setup_paths()

LEONARDO_CREATES_PER_MINUTE = 100  # Leonardo's real limit on POST /generations (CONTRACT.md)
GATEWAY_SECONDS = 29  # under API Gateway's 30 s integration timeout: a 202 must come back inside it
FANOUT_RSS_MB = 64  # the fan-out streams its file a chunk at a time: its memory must not follow the batch
SUBJECTS = (
    "a lighthouse",
    "a red door",
    "a harbour",
    "a castle",
    "a fox",
    "a teapot",
    "a bicycle",
    "a cactus",
)
STYLES = ("at dawn", "in the rain", "as a woodcut", "in watercolour", "at night", "isometric")


def default_budget(items: int, pending: float, cap: int, create_rate: int) -> float:
    """The whole run's time budget, from the bounds. Leonardo lets no client create faster than
    100 a minute, so in production a batch takes at least that bound; the stack, on the raised limit,
    must drain it in half of it (it is then never what a customer's batch waits on), and in three
    times each bound of this run (the slots, the raised rate). Plus a minute to start and a second per
    200 items to submit and read the results back."""
    bounds = (
        items * 60 / LEONARDO_CREATES_PER_MINUTE / 2,
        3 * items * pending / cap,
        3 * items * 60 / create_rate,
    )
    return 60 + max(bounds) + items / 200


def manifest(path: Path, items: int, seed: int) -> Path:
    rng = random.Random(seed)
    with path.open("w") as out:
        for n in range(1, items + 1):
            prompt = f"{rng.choice(SUBJECTS)} {rng.choice(STYLES)}, study {n}"
            line = {
                "custom_id": f"item-{n:05d}",
                "prompt": prompt,
                "width": 256,
                "height": 256,
                "num_images": 1,
            }
            out.write(json.dumps(line) + "\n")
    return path


# ----- the BatchFunction in a child process --------------------------------------------------------


def _rss_kib(field_name: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def child_invoke(request_path: Path) -> None:
    """Run one BatchFunction invocation as the local runtime would, and write what it cost."""
    request = json.loads(request_path.read_text())
    rss_start = _rss_kib()
    for path in request["paths"]:
        sys.path.insert(0, path)
    import importlib.util

    from stackrunner.runtime import LambdaContext

    spec = importlib.util.spec_from_file_location("fn_BatchFunction", request["module_path"])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fn_BatchFunction"] = module
    spec.loader.exec_module(module)
    from gencore import wiring

    rss_imported = _rss_kib()
    worker = (
        wiring.batch_worker()
    )  # its clients and settings, as the first record of a warm function has them
    outcomes: list[str] = []
    handle = worker.handle

    def noted(*args: Any, **kwargs: Any) -> str:
        outcomes.append(handle(*args, **kwargs))
        return outcomes[-1]

    worker.handle = noted  # type: ignore[method-assign]  # what became of each run (fanned_out, continued...)
    rss_ready = _rss_kib()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM: the peak from here on
        hwm_reset = True
    except OSError:
        hwm_reset = False
    peak = [rss_ready]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], _rss_kib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    context = LambdaContext(
        function_name=request["name"], memory_limit_in_mb=str(request["memory"]),
        invoked_function_arn=request["arn"], timeout_seconds=request["timeout"],
    )  # fmt: skip
    started = time.monotonic()
    error = None
    result: Any = None
    try:
        result = getattr(module, request["handler"])(request["event"], context)
    except Exception as exc:  # reported to the parent, which raises it as the invocation's failure
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    hwm = _rss_kib("VmHWM") if hwm_reset else 0
    request_path.with_suffix(".out").write_text(
        json.dumps(
            {
                "result": result,
                "outcomes": outcomes,
                "error": error,
                "seconds": seconds,
                "rss_start_kib": rss_start,
                "rss_imported_kib": rss_imported,
                "rss_ready_kib": rss_ready,
                "rss_peak_kib": max(peak[0], hwm),
                "hwm_reset": hwm_reset,
            },
            default=str,
        )
    )


@dataclass
class ChildRuns:
    """Shadows the runtime's handler lookup for the BatchFunction: each invocation in a child process."""

    work: Path
    runs: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, runtime: Any) -> None:
        original = runtime.handler
        spec = runtime.functions["BatchFunction"]

        def handler(logical_id: str) -> Any:
            if logical_id != "BatchFunction":
                return original(logical_id)
            return lambda event, context: self._run(spec, event, context)

        runtime.handler = handler

    def _run(self, spec: Any, event: Any, context: Any) -> Any:
        with self.lock:
            n = len(self.runs)
            self.runs.append({})
        request = self.work / f"invoke-{n}.json"
        paths = [str(p) for p in (*spec.layers, spec.code_uri)] + [str(ROOT / "local")]
        request.write_text(
            json.dumps(
                {
                    "paths": paths, "module_path": str(spec.module_path), "handler": spec.function_name,
                    "name": spec.name, "memory": spec.memory_size, "timeout": spec.timeout,
                    "arn": context.invoked_function_arn, "event": event,
                }
            )
        )  # fmt: skip
        entered = time.time()
        subprocess.run(  # noqa: S603 (this script, as a child)
            [sys.executable, str(Path(__file__).resolve()), "--invoke-child", str(request)],
            env=dict(os.environ), stdout=sys.stderr, check=False,
        )  # fmt: skip
        left = time.time()
        out = request.with_suffix(".out")
        if not out.exists():
            raise RuntimeError("the BatchFunction child wrote no answer")
        answer = json.loads(out.read_text())
        bodies = [json.loads(r["body"]) for r in event.get("Records", [])]
        with self.lock:
            self.runs[n] = answer | {"entered": entered, "left": left, "messages": bodies}
        if answer["error"]:
            raise RuntimeError(answer["error"])
        return answer["result"]

    def growth_mib(self) -> float | None:
        runs = [r for r in self.runs if r.get("rss_peak_kib")]
        if not runs:
            return None
        return max(r["rss_peak_kib"] - r["rss_ready_kib"] for r in runs) / 1024


@dataclass
class Deliveries:
    """Counts each queue consumer's records, and those SQS delivered again (ApproximateReceiveCount > 1).

    A record comes back when its invocation failed or reported it, and, on a test clock whose
    visibility timeouts are shorter than the Timeouts, when its batch ran longer than the timeout
    (the runner keeps running batches hidden: stackrunner/pollers.py). Counted where the runtime
    looks a handler up, so it sees every invocation the pollers make.
    """

    records: dict[str, int] = field(default_factory=dict)
    again: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, runtime: Any) -> None:
        original = runtime.handler

        def handler(logical_id: str) -> Any:
            function = original(logical_id)

            def counted(event: Any, context: Any) -> Any:
                self._count(logical_id, event)
                return function(event, context)

            return counted

        runtime.handler = handler

    def _count(self, logical_id: str, event: Any) -> None:
        records = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(records, list) or not records or records[0].get("eventSource") != "aws:sqs":
            return
        counts = [int(r.get("attributes", {}).get("ApproximateReceiveCount", "1")) for r in records]
        again = sum(1 for n in counts if n > 1)
        with self.lock:
            self.records[logical_id] = self.records.get(logical_id, 0) + len(records)
            self.again[logical_id] = self.again.get(logical_id, 0) + again


# ----- the run ---------------------------------------------------------------------------------------


@dataclass
class Run:
    items: int
    pending: float
    cap: int
    seed: int
    timeout: float
    upload_seconds: float = 0.0
    create_seconds: float = 0.0
    accepted: float = 0.0  # time.monotonic() at the 202
    fanned_out: float | None = None
    ended: float | None = None
    batch: Any = None
    last: Any = None
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)  # (t, created, done, in flight)
    requests: dict[str, int] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    repeats: dict[str, Any] = field(default_factory=dict)

    def execute(self, stack: Any, client: Any, api: Any, token: str, path: Path) -> Run:
        before = stack.simulator.stats()
        started = time.monotonic()
        upload = client.upload_file(path, purpose="batch_manifest")
        self.upload_seconds = time.monotonic() - started
        self.batch = client.create_batch(manifest_upload_id=upload.id, name=f"bench {self.items}")
        self.accepted = time.monotonic()
        self.create_seconds = self.accepted - started - self.upload_seconds
        self._watch(stack, client)
        self.repeats = repeated_reads(stack.simulator.generation_log())
        after = stack.simulator.stats()
        self.stats = after
        self.requests = {k: v - before["requests"].get(k, 0) for k, v in after["requests"].items()}
        self.requests = {k: v for k, v in self.requests.items() if v}
        self.stats["deltas"] = {
            k: after[k] - before[k] for k in after if isinstance(after[k], int) and k in before
        }
        self.results = read_results(api, token, self.batch.id)
        return self

    def _watch(self, stack: Any, client: Any) -> None:
        deadline = self.accepted + self.timeout
        while time.monotonic() < deadline:
            view = client.get_batch(self.batch.id)
            now = time.monotonic()
            self.last = view
            self.samples.append(
                (now - self.accepted, view.created, view.done, stack.simulator.stats()["in_flight"])
            )
            if self.fanned_out is None and view.created >= view.items:
                self.fanned_out = now
            if view.terminal:
                self.ended = now
                return
            if len(self.samples) % 60 == 0:  # progress on stderr (stdout is the table's)
                print(f"batch bench: {now - self.accepted:.0f} s, created {view.created}, ended {view.done}",
                      flush=True)  # fmt: skip
            time.sleep(0.25 if self.fanned_out is None else 1.0)

    @property
    def makespan(self) -> float | None:
        return None if self.ended is None else self.ended - self.accepted

    @property
    def fanout_seconds(self) -> float | None:
        return None if self.fanned_out is None else self.fanned_out - self.accepted

    @property
    def completed(self) -> int:
        return 0 if self.last is None else self.last.counts.get("COMPLETE", 0)

    def utilisation(self) -> float | None:
        """Mean Leonardo in-flight / cap while items were still waiting (not all POSTed)."""
        generations = [s for s in self.samples if s[0] > 0]
        waiting = [inflight for _, created, done, inflight in generations if done + inflight < created]
        return sum(waiting) / len(waiting) / self.cap if waiting else None


def read_results(api: Any, token: str, batch_id: str) -> dict[str, Any]:
    """Every page of the results, as a client reads them: time, pages, lines, and their order."""
    cursor, pages, lines, size, page_seconds = None, 0, [], 0, []
    started = time.monotonic()
    while True:
        params = {"cursor": cursor} if cursor else {}
        t = time.monotonic()
        response = api.get(
            f"/v1/batches/{batch_id}/results", params=params, headers={"authorization": f"Bearer {token}"}
        )
        response.raise_for_status()
        page_seconds.append(time.monotonic() - t)
        pages += 1
        size += len(response.content)
        lines += [json.loads(line) for line in response.text.splitlines() if line.strip()]
        cursor = response.headers.get("x-next-cursor")
        if not cursor:
            break
    numbers = [line.get("line") for line in lines]
    return {
        "seconds": time.monotonic() - started,
        "pages": pages,
        "lines": len(lines),
        "bytes": size,
        "page_seconds": page_seconds,
        "in_manifest_order": numbers == sorted(numbers),
        "statuses": {
            s: sum(1 for line in lines if line.get("status") == s) for s in {x.get("status") for x in lines}
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=10_000, help="manifest lines (default 10,000)")
    parser.add_argument(
        "--pending", type=float, default=0.2, help="seconds each generation runs (default 0.2)"
    )
    parser.add_argument("--cap", type=int, default=10, help="LeonardoMaxConcurrency (default 10)")
    parser.add_argument(
        "--create-rate",
        type=int,
        default=6000,
        help="the simulator's creates a minute (default 6000; Leonardo: 100)",
    )
    parser.add_argument(
        "--budget-seconds", type=float, default=None, help="the run's budget (default: from the bounds)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="stop waiting for the batch after this (default 2 x budget)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--results", default=None, help="directory for the JSON (default bench/results)")
    parser.add_argument("--invoke-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.invoke_child is not None:
        child_invoke(args.invoke_child)
        return
    budget = args.budget_seconds or default_budget(args.items, args.pending, args.cap, args.create_rate)
    timeout = args.timeout or 2 * budget
    report = Report("batch", parameters=vars(args) | {"budget_seconds": budget, "timeout": timeout})

    import httpx
    from leoclient import Client

    from bench.slots import PRODUCTION_CLOCK
    from stackrunner import LocalStack, StackConfig

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    with (
        redirect_stdout(sys.stderr),
        tempfile.TemporaryDirectory(prefix="batch-bench-") as work,
    ):
        config = StackConfig.fast(
            simulator_config_overrides={
                "pending_seconds": args.pending, "max_concurrency": args.cap,
                "create_rate_limit_per_minute": args.create_rate,
            },
            # The template's polling schedule (as bench/slots.py): the test clock's 2 s first poll would
            # count polls production does not make; visibility timeouts and ticks stay fast.
            extra_environment=dict(PRODUCTION_CLOCK),
            parameters={"LeonardoMaxConcurrency": args.cap, "LogLevel": "WARNING"},
            jwt_state_dir=Path(work) / "jwt",
        )  # fmt: skip
        path = manifest(Path(work) / "manifest.jsonl", args.items, args.seed)
        children, deliveries = ChildRuns(Path(work)), Deliveries()
        with LocalStack(config) as stack:
            children.attach(stack.runtime)
            deliveries.attach(stack.runtime)
            # One token for the whole run: it must outlive the wait (a 10,000-item run on a slow
            # machine takes over an hour, the issuer's default lifetime), and the results read after it.
            token = stack.token("batch-bench", ttl_seconds=int(timeout) + 3600)
            with (
                Client(stack.api_url, token=token, timeout=120) as client,
                httpx.Client(base_url=stack.api_url, timeout=120) as api,
            ):
                run = Run(args.items, args.pending, args.cap, args.seed, timeout)
                run.execute(stack, client, api, token, path)
    figures(report, run, children, args, budget)
    _deliveries(report, deliveries)
    report.finish(args.results)


def figures(report: Report, run: Run, children: ChildRuns, args: argparse.Namespace, budget: float) -> None:
    from bench.slots import ACCOUNT_ROUTES

    items = args.items
    submit = run.upload_seconds + run.create_seconds
    concurrency_bound = items * args.pending / args.cap
    leonardo_bound = items * 60 / LEONARDO_CREATES_PER_MINUTE
    raised_bound = items * 60 / args.create_rate
    makespan = run.makespan
    ended = run.last.status if run.last is not None else "-"
    report.add("items COMPLETE / items", f"{run.completed}/{items}", note=f"batch {ended}")
    report.add("submit: upload + create until 202", submit, "s", f"<= {GATEWAY_SECONDS}",
               note=f"upload {run.upload_seconds:.1f} s, create {run.create_seconds:.1f} s")  # fmt: skip
    report.add(
        "fan-out: 202 until created == items", run.fanout_seconds, "s", f"<= {concurrency_bound:.0f}",
        note="target: the concurrency bound (items are made faster than Leonardo takes them)",
    )  # fmt: skip
    invocations = len(children.runs)
    outcomes = [o for r in children.runs for o in r.get("outcomes", [])]
    report.add(
        "fan-out memory: peak RSS growth of the BatchFunction", children.growth_mib(), "MiB",
        f"<= {FANOUT_RSS_MB}",
        note=f"{invocations} invocation(s), each in its own process: {', '.join(outcomes)}",
    )  # fmt: skip
    ready = [r["rss_ready_kib"] / 1024 for r in children.runs if r.get("rss_ready_kib")]
    report.add("  BatchFunction RSS once initialised", max(ready) if ready else None, "MiB")
    report.add("makespan: 202 until COMPLETE", makespan, "s", note=f"budget {budget:.0f} s for the whole run")
    report.add("  makespan / concurrency bound", makespan / concurrency_bound if makespan else None, "ratio",
               note=f"bound {concurrency_bound:.0f} s = {items} x {args.pending} s / {args.cap}")  # fmt: skip
    report.add(
        "  makespan / Leonardo's create-rate bound", makespan / leonardo_bound if makespan else None, "ratio",
        note=f"bound {leonardo_bound:.0f} s = {items} / {LEONARDO_CREATES_PER_MINUTE} a minute; "
        f"this run raised it to {args.create_rate} ({raised_bound:.0f} s)",
    )  # fmt: skip
    rate = run.completed / makespan if makespan else None
    report.add("  throughput", rate, "items/s", note=f"Leonardo's create limit: {100 / 60:.2f}/s")
    report.add("  Leonardo in flight / cap while items wait", run.utilisation(), "ratio",
               note="the simulator's own count: generations, not slots held here")  # fmt: skip
    total = submit + (makespan or run.timeout) + run.results.get("seconds", 0.0)
    report.add("whole run: submit + makespan + results", total if makespan else None, "s", f"<= {budget:.0f}",
               note="" if makespan else f"not COMPLETE after {run.timeout:.0f} s")  # fmt: skip
    _calls(report, run, ACCOUNT_ROUTES)
    results = run.results
    report.add("results read: every page", results.get("seconds"), "s",
               note=f"{results.get('pages')} page(s), {results.get('lines')} lines, "
               f"{results.get('bytes', 0) / 1e6:.1f} MB")  # fmt: skip
    slowest = max(results.get("page_seconds") or [0.0])
    report.add("  slowest results page", slowest, "s", f"<= {GATEWAY_SECONDS}")
    report.add("  results in manifest order", "yes" if results.get("in_manifest_order") else "NO")
    report.raw = {
        "bounds": {
            "concurrency": concurrency_bound,
            "leonardo_create_rate": leonardo_bound,
            "raised": raised_bound,
        },
        "submit": {"upload": run.upload_seconds, "create": run.create_seconds},
        "fanout_seconds": run.fanout_seconds,
        "makespan": makespan,
        "batch": run.last.model_dump(mode="json") if run.last is not None else None,
        "samples": run.samples,
        "requests": run.requests,
        "simulator_deltas": run.stats.get("deltas"),
        "batch_function_runs": children.runs,
        "batch_function_outcomes": outcomes,
        "results": results,
        "repeated_reads": run.repeats,
        "results_page_p50": percentile(results.get("page_seconds") or [], 50),
    }


def _calls(report: Report, run: Run, account_routes: tuple[str, ...]) -> None:
    completed = max(run.completed, 1)
    per_job = {
        r: n for r, n in run.requests.items()
        if not r.startswith(("GET /_admin", "GET /cdn")) and r not in account_routes
    }  # fmt: skip
    total = sum(per_job.values())
    report.add("Leonardo calls per completed item", total / completed, "req/item", "<= 2.0",
               note=f"{total} calls for {run.completed} items")  # fmt: skip
    for route, n in sorted(per_job.items()):
        report.add(f"  {route.replace('/api/rest/v1', '')}", n / completed, "req/item")
    minutes = max((run.makespan or run.timeout) / 60, 1e-9)
    for route in account_routes:
        short = route.replace("/api/rest/v1", "")
        report.add(f"  account: {short}", run.requests.get(route, 0) / minutes, "req/min")
    report.add("  429s from Leonardo (rate limited)", run.stats.get("deltas", {}).get("rate_limited", 0))
    repeats = run.repeats
    report.add("  generations read more than once", repeats.get("read_again"),
               note=f"{repeats.get('extra_reads')} extra GET(s); seconds from one read to the next: "
               f"{_spread(repeats.get('read_gaps') or [])}")  # fmt: skip
    report.add("  generations fetched from the CDN again", repeats.get("fetched_again"),
               note=f"{repeats.get('extra_downloads')} extra download(s)")  # fmt: skip


def _deliveries(report: Report, deliveries: Deliveries) -> None:
    again = sum(deliveries.again.values())
    by_function = ", ".join(
        f"{name.removesuffix('Function').lower()} {deliveries.again.get(name, 0)} of {n}"
        for name, n in sorted(deliveries.records.items())
    )
    report.add("  queue records delivered again", again, note=by_function or "no queue records")
    report.raw["deliveries"] = {"records": deliveries.records, "again": deliveries.again}


def repeated_reads(log: list[dict[str, Any]]) -> dict[str, Any]:
    """Which generations were read (GET) or fetched from the CDN more than once, from the simulator's
    log (`readAt`, `downloadedAt`): how many, and the time from each read to the one before it. The
    gap and the downloads hint at the cause: a retried call reads again within the retry policy's
    backoff and downloads once; two processings of one event side by side read a moment apart and
    download twice; a reconciler's poll comes on its schedule."""
    read_again = [e for e in log if len(e["readAt"]) > 1]
    images = {e["id"]: e["request"].get("num_images", 1) for e in log}
    fetched_again = [e for e in log if len(e["downloadedAt"]) > images[e["id"]]]
    gaps = [
        (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
        for e in read_again
        for earlier, later in pairwise(e["readAt"])
    ]
    return {
        "read_again": len(read_again),
        "extra_reads": sum(len(e["readAt"]) - 1 for e in read_again),
        "fetched_again": len(fetched_again),
        "extra_downloads": sum(len(e["downloadedAt"]) - images[e["id"]] for e in fetched_again),
        "read_gaps": sorted(round(g, 3) for g in gaps),
        "examples": [
            {k: e[k] for k in ("id", "createdAt", "updatedAt", "readAt", "downloadedAt")}
            for e in (read_again + [f for f in fetched_again if f not in read_again])[:50]
        ],
    }


def _spread(values: list[float]) -> str:
    if not values:
        return "none"
    return f"min {min(values):.2f}, p50 {percentile(values, 50):.2f}, max {max(values):.2f}"


if __name__ == "__main__":
    main()
