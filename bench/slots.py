"""Are Leonardo's slots kept full? Slot utilisation, the hand-over and Leonardo requests per job.

    .venv/bin/python bench/slots.py       # 200 jobs of 8 s, then 100 with 10 % of callbacks dropped
    .venv/bin/python bench/slots.py --jobs 1000 --pending 0.2   # throughput (bench-long)

Leonardo sells concurrency (10 generations in flight per account by default): a slot that sits
idle while jobs wait is throughput the customer paid for and did not get. Two runs through the
whole local stack, over HTTP, with the template's own polling schedule:

1. **Utilisation**: `--jobs` jobs from five users, each generation held `--pending` seconds by the
   simulator, no faults. The simulator's in-flight count is sampled every 50 ms; utilisation is its
   mean over the cap while accepted jobs are still waiting for their POST. The hand-over is the
   time from Leonardo finishing a generation to the POST that takes its slot (the k-th completion
   frees the slot of the (cap + k)-th POST), and it is broken down by hop from timestamps taken at
   each function's entry: callback delivery, the events queue, the processor until it wakes the
   next job, the submit queue, and the submitter until the POST reaches Leonardo.
2. **Requests per job** with `--drop` of callbacks dropped (the reconciler's polls find those
   jobs): Leonardo requests per completed job by route, from the simulator's request counters.
   Account-level calls (`/me`, the list sweeps, the model list, the pricing calculator) are shown in
   their own rows, per minute.

The naive baseline is a client that polls every 2 s: it would make 1 + duration / 2 requests per
job (the POST and its polls), shown beside ours. Raw figures go to bench/results/slots.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import Report, percentile, setup_paths

setup_paths()

import httpx  # noqa: E402

from stackrunner import LocalStack, StackConfig  # noqa: E402

CAP = 10
USERS = ("ada", "grace", "alan", "edsger", "barbara")
# The template's own schedule for the safety nets: the bench measures production behaviour, only
# the SQS visibility timeouts are scaled (so a lost message costs seconds) and the reconciler ticks
# every `--tick` seconds instead of every minute.
PRODUCTION_CLOCK = {
    "POLL_FIRST_SECONDS": "30",
    "POLL_MAX_INTERVAL_SECONDS": "300",
    "QUEUED_CHECK_SECONDS": "120",
    "FINALIZE_CHECK_SECONDS": "120",
}
# Account-level calls, not any job's (DECISIONS, Measuring): the account probe, the list sweeps, the
# model list behind GET /v1/models and the pricing calculator behind estimates (both reconciler-paced).
ACCOUNT_ROUTES = (
    "GET /api/rest/v1/me",
    "GET /api/rest/v1/generations/user/{userId}",
    "GET /api/rest/v1/platformModels",
    "POST /api/rest/v1/pricing-calculator",
)


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ----- timestamps at each function's entry ---------------------------------------------------


@dataclass
class Timeline:
    """Wall-clock times taken as each function is entered, keyed by what it works on."""

    webhook: dict[str, float] = field(default_factory=dict)  # generation id -> callback received
    events_sent: dict[str, float] = field(default_factory=dict)  # generation id -> webhook enqueued it
    processor: dict[str, float] = field(default_factory=dict)  # generation id -> processor entered
    processor_runs: list[tuple[float, float]] = field(default_factory=list)  # (entered, left)
    submit_runs: list[tuple[str, float, float]] = field(default_factory=list)  # (job, sent, entered)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, runtime: Any) -> Callable[[], None]:
        """Shadow the runtime's handler lookup so each invocation is timed; returns the undo."""
        original = runtime.handler

        def handler(logical_id: str) -> Any:
            real = original(logical_id)

            def timed(event: Any, context: Any) -> Any:
                entered = time.time()
                try:
                    return real(event, context)
                finally:
                    self._note(logical_id, event, entered, time.time())

            return timed

        runtime.handler = handler
        return lambda: runtime.__dict__.pop("handler", None)

    def _note(self, function: str, event: Any, entered: float, left: float) -> None:
        records = event.get("Records", []) if isinstance(event, dict) else []
        with self.lock:
            if function == "WebhookFunction":
                generation = _callback_generation(event)
                if generation:
                    self.webhook.setdefault(generation, entered)
            elif function == "ProcessorFunction":
                self.processor_runs.append((entered, left))
                for record in records:
                    body = json.loads(record["body"])
                    generation = body.get("generation_id")
                    sent = int(record["attributes"]["SentTimestamp"]) / 1000
                    if generation and body.get("source") == "webhook":
                        self.events_sent.setdefault(generation, sent)
                        self.processor.setdefault(generation, entered)
            elif function == "SubmitterFunction":
                for record in records:
                    job = json.loads(record["body"]).get("job_id")
                    sent = int(record["attributes"]["SentTimestamp"]) / 1000
                    self.submit_runs.append((job, sent, entered))


def _minus(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def stack_config(pending: float, tick: float, jwt_dir: Path) -> StackConfig:
    config = StackConfig.fast(
        simulator_config_overrides={"pending_seconds": pending, "max_concurrency": CAP},
        extra_environment=dict(PRODUCTION_CLOCK),
        parameters={"LeonardoMaxConcurrency": CAP, "LogLevel": "WARNING"},
        schedule_interval=tick,
    )
    config.jwt_state_dir = jwt_dir
    return config


def _callback_generation(event: dict) -> str | None:
    try:
        body = json.loads(event.get("body") or "{}")
        return body["data"]["object"]["id"]
    except (ValueError, KeyError, TypeError):
        return None


# ----- one run ----------------------------------------------------------------------------------


@dataclass
class Run:
    jobs: int
    pending: float
    drop: float
    seed: int
    tick: float
    accepted: dict[str, str] = field(default_factory=dict)  # job id -> user
    prompts: dict[str, str] = field(default_factory=dict)  # job id -> its (unique) prompt
    samples: list[tuple[float, int, int, int]] = field(
        default_factory=list
    )  # (t, in_flight, created, accepted)
    log: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    jobs_view: dict[str, dict] = field(default_factory=dict)
    timeline: Timeline = field(default_factory=Timeline)
    started: float = 0.0
    finished: float = 0.0

    def execute(self, stack: LocalStack) -> Run:
        """Run this phase on a live stack: its faults, its jobs, its share of the counters."""
        from leonardo_simulator import FaultConfig

        stack.simulator.set_faults(FaultConfig(seed=self.seed, drop_callback_rate=self.drop))
        before = stack.simulator.stats()
        known = {g["id"] for g in stack.simulator.generation_log()}
        undo = self.timeline.attach(stack.runtime)
        try:
            self._drive(stack)
        finally:
            undo()
        after = stack.simulator.stats()
        self.stats = after | {"requests": _minus(after["requests"], before["requests"])}
        self.log = [g for g in stack.simulator.generation_log() if g["id"] not in known]
        return self

    def _drive(self, stack: LocalStack) -> None:
        tokens = {user: stack.token(user) for user in USERS}
        stop = threading.Event()
        sampler = threading.Thread(target=self._sample, args=(stack, stop), daemon=True)
        with httpx.Client(base_url=stack.api_url, timeout=30) as api:
            self.started = time.time()
            sampler.start()

            def post(n: int) -> None:
                user = USERS[n % len(USERS)]
                prompt = f"slot bench {self.seed} job {n}"
                response = api.post(
                    "/v1/generations",
                    json={"prompt": prompt, "num_images": 1, "width": 512, "height": 512},
                    headers={"authorization": f"Bearer {tokens[user]}"},
                )
                response.raise_for_status()
                with self.timeline.lock:
                    self.accepted[response.json()["id"]] = user
                    self.prompts[response.json()["id"]] = prompt

            with ThreadPoolExecutor(4) as pool:
                list(pool.map(post, range(self.jobs)))
            deadline = time.time() + 120 + self.jobs * (self.pending + 1.0) / CAP * 3
            self._wait_terminal(api, tokens, deadline)
            self.finished = time.time()
            stop.set()
            sampler.join()

    def _sample(self, stack: LocalStack, stop: threading.Event) -> None:
        created_before = stack.simulator.stats()["generations_created"] - len(self.accepted)
        while not stop.wait(0.05):
            stats = stack.simulator.stats()
            stats["generations_created"] -= created_before
            self.samples.append(
                (time.time(), stats["in_flight"], stats["generations_created"], len(self.accepted))
            )

    def _wait_terminal(self, api: httpx.Client, tokens: dict[str, str], deadline: float) -> None:
        pending = set(self.accepted)
        while pending and time.time() < deadline:
            time.sleep(1.0)
            for job_id in sorted(pending):
                user = self.accepted[job_id]
                view = api.get(
                    f"/v1/generations/{job_id}", headers={"authorization": f"Bearer {tokens[user]}"}
                )
                if view.status_code == 200 and view.json()["status"] in ("COMPLETE", "FAILED", "CANCELLED"):
                    self.jobs_view[job_id] = view.json()
                    pending.discard(job_id)
                else:
                    break  # jobs finish roughly in order: look again in a second

    # --- figures ---
    def utilisation(self) -> float | None:
        """Mean in-flight / cap over the samples taken while accepted jobs had not been POSTed."""
        waiting = [
            inflight
            for _, inflight, created, accepted in self.samples
            if created < self.jobs and created < accepted
        ]
        full_once = [s for s in self.samples if s[1] >= CAP]
        if not waiting or not full_once:
            return None
        # From the first moment the cap was reached: before it, the line is still being filled.
        first_full = full_once[0][0]
        window = [
            inflight for t, inflight, created, accepted in self.samples
            if t >= first_full and created < self.jobs and created < accepted
        ]  # fmt: skip
        return statistics.fmean(window) / CAP if window else None

    def handovers(self) -> list[float]:
        """Leonardo finished -> the POST that took its slot, for each slot handed on."""
        done = sorted(_stamp(g["updatedAt"]) for g in self.log if g["status"] in ("COMPLETE", "FAILED"))
        posts = sorted(_stamp(g["receivedAt"] or g["createdAt"]) for g in self.log)
        return [posts[CAP + k] - done[k] for k in range(min(len(done), len(posts) - CAP))]

    def hops(self) -> dict[str, list[float]]:
        t = self.timeline
        done = {g["id"]: _stamp(g["updatedAt"]) for g in self.log if g["status"] == "COMPLETE"}
        received = {}
        for g in self.log:
            received[g["id"]] = _stamp(g["receivedAt"] or g["createdAt"])
        callback = [t.webhook[g] - done[g] for g in done if g in t.webhook]
        events = [t.processor[g] - t.events_sent[g] for g in t.processor if g in t.events_sent]
        webhook_to_queue = [t.events_sent[g] - t.webhook[g] for g in t.events_sent if g in t.webhook]
        # The wake: a submit message sent while a processor run was going on was sent by it.
        wakes = []
        runs = sorted(t.processor_runs)
        for _, sent, _entered in t.submit_runs:
            for entered, left in runs:
                if entered <= sent <= left:
                    wakes.append(sent - entered)
                    break
        submit_queue = [entered - sent for _, sent, entered in t.submit_runs]
        # Submitter entered -> its POST reached Leonardo: the last submit run before each POST.
        by_prompt = {g["request"]["prompt"]: g["id"] for g in self.log}
        job_generation = {job: by_prompt.get(prompt) for job, prompt in self.prompts.items()}
        entered_by_job: dict[str, list[float]] = defaultdict(list)
        for job, _sent, entered in t.submit_runs:
            entered_by_job[job].append(entered)
        to_post = []
        for job, generation in job_generation.items():
            if generation in received and entered_by_job.get(job):
                before = [e for e in entered_by_job[job] if e <= received[generation]]
                if before:
                    to_post.append(received[generation] - max(before))
        return {
            "callback delivery": callback,
            "webhook to events queue": webhook_to_queue,
            "events queue": events,
            "processor until the wake": wakes,
            "submit queue": submit_queue,
            "submitter until the POST": to_post,
        }

    def requests_by_route(self) -> dict[str, int]:
        return dict(self.stats.get("requests", {}))

    @property
    def completed(self) -> int:
        return sum(1 for v in self.jobs_view.values() if v["status"] == "COMPLETE")


def _p(values: list[float], q: float) -> float | None:
    return percentile(values, q)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200, help="jobs in the utilisation run (default 200)")
    parser.add_argument("--pending", type=float, default=8.0, help="seconds each generation runs (default 8)")
    parser.add_argument(
        "--dropped-jobs", type=int, default=100, help="jobs in the dropped-callbacks run (0: skip)"
    )
    parser.add_argument("--drop", type=float, default=0.10, help="share of callbacks dropped in that run")
    parser.add_argument("--tick", type=float, default=5.0, help="seconds between reconciler runs (default 5)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--results", default=None, help="directory for the JSON (default bench/results)")
    args = parser.parse_args()

    report = Report("slots", parameters=vars(args))
    # The functions log to stdout (as on Lambda): keep it for the table.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # moto's server: a line per request
    with (
        redirect_stdout(sys.stderr),
        tempfile.TemporaryDirectory(prefix="slots-jwt-") as jwt_dir,
        LocalStack(stack_config(args.pending, args.tick, Path(jwt_dir))) as stack,
    ):
        first = Run(args.jobs, args.pending, 0.0, args.seed, args.tick).execute(stack)
        second = None
        if args.dropped_jobs:
            second = Run(args.dropped_jobs, args.pending, args.drop, args.seed + 1, args.tick)
            second.execute(stack)
    elapsed = first.finished - first.started
    report.add("jobs completed (utilisation run)", f"{first.completed}/{args.jobs}")
    report.add("slot utilisation while jobs wait", first.utilisation(), "in-flight/cap", ">= 0.95")
    handovers = first.handovers()
    report.add("hand-over p50 (done -> next POST)", _p(handovers, 50), "s")
    report.add("hand-over p95 (done -> next POST)", _p(handovers, 95), "s")
    bound = args.jobs * args.pending / CAP
    report.add("drain time / concurrency bound", elapsed / bound if bound else None, "ratio",
               note=f"{elapsed:.0f} s for a {bound:.0f} s bound")  # fmt: skip
    report.add("throughput", first.completed / elapsed if elapsed else None, "jobs/s")
    hops = first.hops()
    for hop, values in hops.items():
        report.add(
            f"hop: {hop} p50/p95", _fmt_pair(_p(values, 50), _p(values, 95)), "ms", note=f"n={len(values)}"
        )
    report.raw["utilisation_run"] = _raw(first, hops, handovers)
    _request_rows(report, first, "callbacks on", target="<= 2.0")

    if second is not None:
        report.add(
            f"jobs completed ({args.drop:.0%} callbacks dropped)", f"{second.completed}/{args.dropped_jobs}"
        )
        _request_rows(report, second, f"{args.drop:.0%} dropped", target="<= 2.2")
        report.raw["dropped_run"] = _raw(second, {}, [])
    report.finish(args.results)


def _fmt_pair(a: float | None, b: float | None) -> str:
    shown = ["-" if v is None else f"{v * 1000:.0f}" for v in (a, b)]
    return " / ".join(shown)


def _request_rows(report: Report, run: Run, label: str, *, target: str) -> None:
    completed = max(run.completed, 1)
    routes = run.requests_by_route()
    per_job = {r: n for r, n in routes.items() if not r.startswith("GET /_admin") and r not in ACCOUNT_ROUTES}
    total = sum(n for r, n in per_job.items() if not r.startswith("GET /cdn"))
    report.add(f"Leonardo requests per completed job ({label})", total / completed, "req/job", target)
    for route, n in sorted(per_job.items()):
        if not route.startswith("GET /cdn"):
            report.add(f"  {route.replace('/api/rest/v1', '')} ({label})", n / completed, "req/job")
    minutes = max((run.finished - run.started) / 60, 1e-9)
    for route in ACCOUNT_ROUTES:
        short = route.replace("/api/rest/v1", "")
        report.add(f"  account: {short} ({label})", routes.get(route, 0) / minutes, "req/min")
    baseline = 1 + run.pending / 2
    report.add(f"naive client polling every 2 s ({label})", baseline, "req/job", note="baseline")


def _raw(run: Run, hops: dict[str, list[float]], handovers: list[float]) -> dict[str, Any]:
    return {
        "jobs": run.jobs,
        "pending_seconds": run.pending,
        "drop": run.drop,
        "completed": run.completed,
        "elapsed_seconds": run.finished - run.started,
        "utilisation": run.utilisation(),
        "handovers": handovers,
        "hops": hops,
        "requests": run.requests_by_route(),
        "samples": len(run.samples),
    }


if __name__ == "__main__":
    main()
