"""Chaos run: N jobs through the whole local stack, over HTTP only, while faults are injected.

    .venv/bin/python bench/chaos.py --jobs 2000 --seed 7

Faults, all drawn from random.Random instances seeded from --seed:

- in the Leonardo simulator: dropped, duplicated and delayed callbacks, 429 and 500 answers,
  generations that end FAILED, a CDN that trickles bodies out, and the answers to the paid POST
  that hide a created generation: a 5xx after creating it, a cut (unreadable) 2xx, and an answer
  slower than the client's read timeout;
- in the submitter: a share of invocations die right after Leonardo accepted the POST, before the
  generation id is recorded (the worst moment to crash: the money is spent, nothing says so);
- in the requests: a few prompts shared by every user, some with the same explicit seed, so that
  requests of different users look identical to Leonardo;
- in the runner: a share of ProcessorFunction invocations crash at one point — before an output
  copy starts, in the middle of a copy (after part of the CDN body was streamed), or after every
  copy but before the COMPLETE status write. A crashed invocation deletes none of its batch: the
  whole batch comes back after the visibility timeout, as when Lambda kills a function.

At the end it prints a table and checks the invariants (see docs/reliability.md); it exits 1 if
any fails. tests/chaos/test_chaos.py runs the same scenario with 200 jobs (`pytest -m chaos`).
Run it in its own process: moto keeps its state per process.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _sub in ("layers/core", "local", "."):
    if str(ROOT / _sub) not in sys.path:
        sys.path.insert(0, str(ROOT / _sub))
# What tests/conftest.py sets for the test suites; handler modules read it when first imported.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "leonardo-backend")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "LeonardoBackendChaos")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

import httpx  # noqa: E402

from bench import report as bench_report  # noqa: E402
from gencore.adapters import dynamo, outputs  # noqa: E402
from gencore.domain.models import JobStatus  # noqa: E402
from leonardo_simulator import FaultConfig  # noqa: E402
from stackrunner import LocalStack, StackConfig  # noqa: E402

TERMINAL = {"COMPLETE", "FAILED", "CANCELLED"}
CRASH_POINTS = ("before_copy", "mid_copy", "after_copy")
# Failure codes the injected faults explain: the simulator's failed generations.
EXPECTED_FAILURES = {"generation_failed"}
# Shared by every user: identical prompts (and sometimes seeds) must never cross jobs.
PROMPTS = (
    "a lighthouse on a cliff at dawn",
    "a red fox in fresh snow",
    "a tram in the rain at night",
    "a bowl of ramen, studio light",
)
SHARED_SEEDS = (11, 12, 13)
POLL_SECONDS = 2.0  # the least time between the starts of the checker's rounds
POLL_DUTY = 0.2  # the most of the time the checker's listing may take


# ----- the scenario -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    jobs: int
    seed: int
    users: int = 8
    submit_workers: int = 4
    max_concurrency: int = 10  # LeonardoMaxConcurrency
    pending_seconds: float = 0.2  # simulator: time a generation runs
    crash_rate: float = 0.05  # share of ProcessorFunction invocations that crash
    submit_crash_rate: float = 0.03  # share of paid POSTs whose submitter dies before recording them
    read_timeout: float = 1.5  # the client's; slow answers take longer
    settle_seconds_after_unanswered: int = 3  # SubmitSettleSeconds, scaled like the other clocks
    drain_deadline: float | None = None  # seconds from the first POST; default 120 + 0.5 s per job
    settle_seconds: float = 60.0  # after the last job is terminal, for queues and callbacks to go quiet

    def faults(self) -> FaultConfig:
        return FaultConfig(
            seed=self.seed,
            drop_callback_rate=0.10,
            duplicate_callback_rate=0.10,
            delay_callback_rate=0.10,
            delay_callback_seconds=1.5,
            http_429_rate=0.05,
            http_5xx_rate=0.02,
            failed_generation_rate=0.02,
            cdn_delay_seconds=0.05,
            http_5xx_after_create_rate=0.03,
            malformed_create_rate=0.03,
            slow_answer_after_create_rate=0.02,
            slow_answer_seconds=self.read_timeout + 1.0,
        )

    @property
    def deadline(self) -> float:
        return self.drain_deadline if self.drain_deadline is not None else 120.0 + 0.5 * self.jobs

    def stack_config(self, jwt_dir: Path) -> StackConfig:
        return StackConfig.fast(
            parameters={"LeonardoMaxConcurrency": str(self.max_concurrency), "LogLevel": "WARNING"},
            simulator_config_overrides={
                "pending_seconds": self.pending_seconds,
                # Only the injected 429s: the simulator's own rolling windows (100 creates a minute)
                # would make this a rate-limit benchmark rather than a chaos run.
                "rate_limit_per_minute": 1_000_000,
                "create_rate_limit_per_minute": 1_000_000,
            },
            stack_name=f"chaos-{self.seed}-{uuid.uuid4().hex[:8]}",
            jwt_state_dir=jwt_dir,
            extra_environment={
                "LEONARDO_READ_TIMEOUT_SECONDS": str(self.read_timeout),
                "SUBMIT_SETTLE_SECONDS": str(self.settle_seconds_after_unanswered),
            },
        )


@dataclass(frozen=True)
class JobSpec:
    index: int
    user: str
    tag: str
    body: dict


def plan_jobs(scenario: Scenario, nonce: str) -> list[JobSpec]:
    """Few distinct requests on purpose: every prompt is used by every user, and one job in ten
    also shares an explicit seed, so identical-looking requests race each other at Leonardo."""
    rng = random.Random(f"{scenario.seed}:jobs")
    specs = []
    for i in range(scenario.jobs):
        tag = f"chaos-{nonce}-{i}"  # the Idempotency-Key: one job per planned request
        body = {
            "prompt": rng.choice(PROMPTS),
            "width": rng.choice((64, 96, 128)),
            "height": rng.choice((64, 96, 128)),
            "num_images": rng.choice((1, 1, 2, 3)),
        }
        if rng.random() < 0.1:
            body["seed"] = rng.choice(SHARED_SEEDS)
        specs.append(JobSpec(i, f"chaos-user-{i % scenario.users}", tag, body))
    return specs


# ----- crashes in the processor -------------------------------------------------------------------


class InjectedCrash(RuntimeError):
    """A ProcessorFunction invocation dies here (raised by the chaos run, never by product code)."""


@dataclass
class _Invocation:
    decided: bool = False
    point: str | None = None
    after_bytes: int = 0
    fired: str | None = None
    reader_armed: bool = False


class _CrashingReader:
    """Streams from the real reader, then dies once `after_bytes` of the CDN body were read."""

    def __init__(self, inner: Any, after_bytes: int, on_crash: Callable[[], None]) -> None:
        self._inner, self._after, self._on_crash, self._read = inner, after_bytes, on_crash, 0

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._read += len(data)
        if self._read >= self._after or size < 0 or len(data) < size:  # a small body dies at its end
            self._on_crash()
            raise InjectedCrash(f"processor crashed mid copy after {self._read} bytes")
        return data


class _FunctionPatches:
    """Patches for one function's invocations, all undone on exit: the runtime's handler lookup is
    shadowed so that invocations of `function` run through `_wrap`, and `_replace` swaps
    attributes of product classes for crashing stand-ins."""

    def __init__(self, runtime: Any, function: str) -> None:
        self._runtime, self._function = runtime, function
        self._saved: list[tuple[Any, str, Any]] = []
        self._previous_handler: Any = None

    def _wrap(self, handler: Any) -> Any:  # pragma: no cover - each subclass has its own
        raise NotImplementedError

    def _shadow_handler(self) -> None:
        self._previous_handler = self._runtime.__dict__.get("handler")
        original, function = self._runtime.handler, self._function

        def handler(logical_id: str) -> Any:
            real = original(logical_id)
            return self._wrap(real) if logical_id == function else real

        self._runtime.handler = handler  # shadows the method; FunctionRuntime.invoke looks it up per call

    def _replace(self, owner: Any, name: str, replacement: Any) -> None:
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        if self._previous_handler is None:
            self._runtime.__dict__.pop("handler", None)
        else:
            self._runtime.handler = self._previous_handler
        self._saved = []


class ProcessorCrashes(_FunctionPatches):
    """Makes `rate` of one function's invocations crash at a seeded point; restores all on exit.

    Wrapped: S3OutputStore.copy (before / mid copy, through Download.reader) and
    DynamoJobStore.transition to COMPLETE (after copy, before the write). The decision is made once
    per invocation, when it first reaches one of these points (invocations that only meet
    duplicates never do): the n-th such invocation takes the n-th draws. So that a short run still
    covers each point, the invocations numbered in FORCED crash there whatever the draw says.
    """

    FORCED = {3: "before_copy", 6: "mid_copy", 9: "after_copy"}

    def __init__(self, runtime: Any, *, seed: int, rate: float, function: str = "ProcessorFunction") -> None:
        super().__init__(runtime, function)
        self._rate = rate
        self._rng = random.Random(f"{seed}:processor-crash")
        self._lock = threading.Lock()
        self._local = threading.local()
        self.invocations = 0
        self.working = 0  # invocations that reached a crash point
        self.armed: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()

    def __enter__(self) -> ProcessorCrashes:
        original_copy = outputs.S3OutputStore.copy
        original_reader = outputs.Download.reader
        original_transition = dynamo.DynamoJobStore.transition
        crashes = self

        def copy(store: Any, url: str, key_prefix: str, *, index: int, source_id: str) -> Any:
            state = crashes._current()
            point = crashes._point(state)
            if state and point == "before_copy":
                crashes._fire(state, "before_copy")
                raise InjectedCrash("processor crashed before an output copy")
            if state and point == "mid_copy":
                state.reader_armed = True
            try:
                return original_copy(store, url, key_prefix, index=index, source_id=source_id)
            finally:
                if state:
                    state.reader_armed = False

        def reader(download: Any) -> Any:
            inner = original_reader(download)
            state = crashes._current()  # built in the handler's thread; read by s3transfer's
            if state and state.reader_armed and not state.fired:
                state.reader_armed = False
                return _CrashingReader(inner, state.after_bytes, lambda: crashes._fire(state, "mid_copy"))
            return inner

        def transition(store: Any, job: Any, to: JobStatus, **kwargs: Any) -> Any:
            state = crashes._current()
            if state and to == JobStatus.COMPLETE and crashes._point(state) == "after_copy":
                crashes._fire(state, "after_copy")
                raise InjectedCrash("processor crashed after copying, before the COMPLETE write")
            return original_transition(store, job, to, **kwargs)

        self._shadow_handler()
        self._replace(outputs.S3OutputStore, "copy", copy)
        self._replace(outputs.Download, "reader", reader)
        self._replace(dynamo.DynamoJobStore, "transition", transition)
        return self

    def _current(self) -> _Invocation | None:
        return getattr(self._local, "state", None)

    def _point(self, state: _Invocation | None) -> str | None:
        """The point this invocation is to crash at (decided on first use), None once it crashed."""
        if state is None:
            return None
        if not state.decided:
            with self._lock:
                self.working += 1
                doomed = self._rng.random() < self._rate
                point = self._rng.choice(CRASH_POINTS)  # drawn every time: the n-th draw depends on n only
                state.after_bytes = self._rng.randint(1, 1024)
                if self.working in self.FORCED:
                    doomed, point = True, self.FORCED[self.working]
                if doomed:
                    state.point = point
                    self.armed[point] += 1
                state.decided = True
        return None if state.fired else state.point

    def _fire(self, state: _Invocation, point: str) -> None:
        with self._lock:
            state.fired = point
            self.fired[point] += 1

    def _wrap(self, handler: Any) -> Any:
        def invocation(event: Any, context: Any) -> Any:
            with self._lock:
                self.invocations += 1
            state = _Invocation()
            self._local.state = state
            try:
                result = handler(event, context)
            finally:
                self._local.state = None
            if state.fired:
                # A killed invocation reports nothing: the poller deletes none of the batch.
                raise InjectedCrash(f"ProcessorFunction invocation crashed at {state.fired}")
            return result

        return invocation


class SubmitterCrashes(_FunctionPatches):
    """Makes `rate` of the paid POSTs' submitter invocations die after Leonardo accepted the POST
    and before the generation id is written (DynamoJobStore.mark_submitted of a fresh POST). The
    killed invocation reports nothing, so its whole batch comes back after the visibility timeout,
    and the next message adopts the generation under the dead holder's lease, once the POST has
    gone unanswered for the settle time (domain/unanswered.py)."""

    def __init__(self, runtime: Any, *, seed: int, rate: float, function: str = "SubmitterFunction") -> None:
        super().__init__(runtime, function)
        self._rate = rate
        self._rng = random.Random(f"{seed}:submitter-crash")
        self._lock = threading.Lock()
        self._local = threading.local()
        self.fired = 0

    def __enter__(self) -> SubmitterCrashes:
        original_mark = dynamo.DynamoJobStore.mark_submitted
        crashes = self

        def mark_submitted(store: Any, job: Any, **kwargs: Any) -> Any:
            fresh = kwargs.get("cost") is not None  # an answered POST, not an adoption
            if fresh and getattr(crashes._local, "armed", False) and crashes._roll():
                crashes._local.fired = True
                raise InjectedCrash("submitter crashed after the POST, before recording it")
            return original_mark(store, job, **kwargs)

        self._shadow_handler()
        self._replace(dynamo.DynamoJobStore, "mark_submitted", mark_submitted)
        return self

    def _roll(self) -> bool:
        with self._lock:
            if self._rng.random() < self._rate:
                self.fired += 1
                return True
            return False

    def _wrap(self, handler: Any) -> Any:
        def invocation(event: Any, context: Any) -> Any:
            self._local.armed, self._local.fired = True, False
            try:
                result = handler(event, context)
            finally:
                self._local.armed = False
            if self._local.fired:
                raise InjectedCrash("SubmitterFunction invocation crashed after a paid POST")
            return result

        return invocation


# ----- the report ---------------------------------------------------------------------------------


@dataclass
class Report:
    jobs: int
    seed: int
    accepted: int = 0
    post_failures: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    failed_by_code: Counter[str] = field(default_factory=Counter)
    submit_seconds: float = 0.0
    drain_seconds: float = 0.0
    wall_seconds: float = 0.0
    times_to_terminal: list[float] = field(default_factory=list)
    simulator: dict = field(default_factory=dict)
    processor_invocations: int = 0
    processor_working: int = 0
    crashes_armed: Counter[str] = field(default_factory=Counter)
    crashes_fired: Counter[str] = field(default_factory=Counter)
    submitter_crashes: int = 0
    generations_per_job: Counter[int] = field(default_factory=Counter)
    orphan_generations: int = 0
    images_verified: int = 0
    objects_in_bucket: int = 0
    dlq: dict[str, list[str]] = field(default_factory=dict)
    queues_left: dict[str, int] = field(default_factory=dict)
    in_flight_left: int | None = None
    environments: dict[str, int] = field(default_factory=dict)
    settled: bool = False
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def terminal(self) -> int:
        return sum(n for status, n in self.statuses.items() if status in TERMINAL)

    @property
    def throughput(self) -> float:
        return self.terminal / self.drain_seconds if self.drain_seconds else 0.0

    def percentile(self, q: float) -> float:
        values = sorted(self.times_to_terminal)
        if not values:
            return 0.0
        return values[min(len(values) - 1, max(0, round(q * len(values) + 0.5) - 1))]

    def rows(self) -> list[tuple[str, str]]:
        sim = self.simulator
        fired = self.crashes_fired
        rows = [
            ("jobs planned / accepted (202)", f"{self.jobs} / {self.accepted}"),
            ("POSTs not accepted", _counts(self.post_failures) or "0"),
            ("COMPLETE", str(self.statuses.get("COMPLETE", 0))),
            ("FAILED, by error code", f"{self.statuses.get('FAILED', 0)} ({_counts(self.failed_by_code)})"),
            ("not terminal at the deadline", str(self.accepted - self.terminal)),
            ("time to submit all (s)", f"{self.submit_seconds:.1f}"),
            ("time to drain (s)", f"{self.drain_seconds:.1f}"),
            ("throughput (jobs/s)", f"{self.throughput:.2f}"),
            ("time to terminal p50 / p95 / max (s)", self._ttt()),
            ("Leonardo generations per job", _counts(self.generations_per_job, "x") or "-"),
            ("Leonardo generations no accepted job owns", str(self.orphan_generations)),
            ("images verified (S3 bytes == CDN bytes)", str(self.images_verified)),
            ("objects in the output bucket", str(self.objects_in_bucket)),
            (
                "callbacks sent / dropped / duplicated / delayed / failed",
                " / ".join(
                    str(sim.get(k, 0))
                    for k in (
                        "callbacks_sent",
                        "callbacks_dropped",
                        "callbacks_duplicated",
                        "callbacks_delayed",
                        "callbacks_failed",
                    )
                ),
            ),
            ("simulator 429 / 500 injected", f"{sim.get('injected_429', 0)} / {sim.get('injected_5xx', 0)}"),
            (
                "paid POST answers hiding a generation: 5xx / unreadable / too slow",
                f"{sim.get('injected_5xx_after_create', 0)} / {sim.get('injected_malformed_create', 0)}"
                f" / {sim.get('injected_slow_answers', 0)}",
            ),
            ("submitter crashes after the POST, before its record", str(self.submitter_crashes)),
            (
                "simulator generations created / completed / failed",
                f"{sim.get('generations_created', 0)} / {sim.get('generations_completed', 0)}"
                f" / {sim.get('generations_failed', 0)}",
            ),
            (
                "processor invocations (reaching a copy or COMPLETE write)",
                f"{self.processor_invocations} ({self.processor_working})",
            ),
            ("execution environments (cold starts)", _counts(Counter(self.environments)) or "-"),
            (
                "crashes fired: before / mid / after copy",
                f"{fired['before_copy']} / {fired['mid_copy']} / {fired['after_copy']} (armed "
                + " / ".join(str(self.crashes_armed[p]) for p in CRASH_POINTS)
                + ")",
            ),
            (
                "SubmitDLQ / EventsDLQ depth",
                f"{len(self.dlq.get('SubmitDLQ', []))} / {len(self.dlq.get('EventsDLQ', []))}",
            ),
            ("queues settled (left: " + _counts(self.queues_left) + ")", "yes" if self.settled else "NO"),
            ("in-flight slots left", "?" if self.in_flight_left is None else str(self.in_flight_left)),
            ("invariants", "all hold" if self.ok else f"{len(self.violations)} violation(s)"),
        ]
        return rows

    def _ttt(self) -> str:
        return (
            f"{self.percentile(0.50):.1f} / {self.percentile(0.95):.1f} / "
            f"{max(self.times_to_terminal, default=0.0):.1f}"
        )

    def table(self) -> str:
        rows = [("metric", "value"), *self.rows()]
        width = max(len(label) for label, _ in rows)
        lines = [f"Chaos run: {self.jobs} jobs, seed {self.seed}"]
        lines.append(f"{rows[0][0]:<{width}}  {rows[0][1]}")
        lines.append(f"{'-' * width}  {'-' * 24}")
        lines += [f"{label:<{width}}  {value}" for label, value in rows[1:]]
        for name, messages in self.dlq.items():
            lines += [f"  {name}: {m}" for m in messages]
        if self.violations:
            lines.append("violations:")
            shown = self.violations[:50]
            lines += [f"  - {v}" for v in shown]
            if len(self.violations) > len(shown):
                lines.append(f"  ... and {len(self.violations) - len(shown)} more")
        return "\n".join(lines)


def _counts(counter: Counter, suffix: str = "") -> str:
    return ", ".join(f"{k}{suffix}: {v}" for k, v in sorted(counter.items(), key=lambda kv: str(kv[0])))


# ----- driving it ---------------------------------------------------------------------------------


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(
    jobs: int, seed: int, *, scenario: Scenario | None = None, log: Callable[[str], None] = _stderr
) -> Report:
    """Start a fresh local stack, run the scenario, verify, and return the report."""
    scenario = scenario or Scenario(jobs=jobs, seed=seed)
    report = Report(jobs=scenario.jobs, seed=scenario.seed)
    wall = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="chaos-jwt-") as jwt_dir,
        LocalStack(scenario.stack_config(Path(jwt_dir))) as stack,
    ):
        log(f"stack up: API {stack.api_url}, simulator {stack.simulator.base_url}")
        stack.simulator.set_faults(scenario.faults())
        _Run(stack, scenario, report, log).execute()
    report.wall_seconds = time.monotonic() - wall
    return report


class _Run:
    def __init__(self, stack: LocalStack, scenario: Scenario, report: Report, log: Callable[[str], None]):
        self.stack, self.sc, self.report, self.log = stack, scenario, report, log
        self.nonce = uuid.uuid4().hex[:8]
        self.specs = plan_jobs(scenario, self.nonce)
        # Tokens outlive the run: the submit phase, the drain deadline and the settling after it.
        ttl = int(scenario.deadline) + 3600
        self.tokens = {s.user: stack.token(s.user, ttl_seconds=ttl) for s in self.specs}
        self.accepted: dict[str, JobSpec] = {}  # job id -> spec
        self.views: dict[str, dict] = {}  # job id -> last terminal view
        self.ddb = stack.boto3_client("dynamodb")
        self.s3 = stack.boto3_client("s3")
        self.sqs = stack.boto3_client("sqs")
        self.ids = stack.physical_ids

    def headers(self, user: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[user]}"}

    def execute(self) -> None:
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        assert self.stack.template is not None
        environments = self.stack.environments  # one event at a time per environment, as on Lambda
        crashes = ProcessorCrashes(self.stack.runtime, seed=self.sc.seed, rate=self.sc.crash_rate)
        submitter_crashes = SubmitterCrashes(
            self.stack.runtime, seed=self.sc.seed, rate=self.sc.submit_crash_rate
        )
        with (
            crashes,
            submitter_crashes,
            httpx.Client(base_url=self.stack.api_url, timeout=30, limits=limits) as api,
        ):
            started = datetime.now(UTC)
            self.submit(api)
            self.report.submit_seconds = (datetime.now(UTC) - started).total_seconds()
            self.log(f"{self.report.accepted} accepted in {self.report.submit_seconds:.1f}s")
            self.poll(api, deadline=time.monotonic() + self.sc.deadline - self.report.submit_seconds)
            self.confirm(api)
            self.record_times(started)
            self.log(f"{self.report.terminal} terminal after {self.report.drain_seconds:.1f}s; settling")
            self.report.settled = self.settle(time.monotonic() + self.sc.settle_seconds)
        self.report.processor_invocations = crashes.invocations
        self.report.processor_working = crashes.working
        self.report.crashes_armed = crashes.armed
        self.report.crashes_fired = crashes.fired
        self.report.submitter_crashes = submitter_crashes.fired
        self.report.environments = environments.environments
        self.report.simulator = self.stack.simulator.stats()
        self.verify()

    # --- load ---
    def submit(self, api: httpx.Client) -> None:
        def post(spec: JobSpec) -> tuple[JobSpec, str | None, str | None]:
            try:
                headers = self.headers(spec.user) | {"idempotency-key": spec.tag}
                response = api.post("/v1/generations", json=spec.body, headers=headers)
            except httpx.HTTPError as error:
                return spec, None, type(error).__name__
            if response.status_code == 202:
                return spec, response.json()["id"], None
            return spec, None, f"HTTP {response.status_code}"

        with ThreadPoolExecutor(self.sc.submit_workers, thread_name_prefix="chaos-post") as pool:
            for spec, job_id, failure in pool.map(post, self.specs):
                if job_id:
                    self.accepted[job_id] = spec
                else:
                    self.report.post_failures[failure or "?"] += 1
                    self.report.violations.append(f"POST for job {spec.index} answered {failure}")
        self.report.accepted = len(self.accepted)

    def poll(self, api: httpx.Client, deadline: float) -> None:
        """List each user's jobs (GET, paginated) until every accepted job is terminal.

        The checker shares the machine with what it checks, so it reads as little as it can: a
        user's listing (newest first) is read only until every one of that user's pending jobs has
        been seen on it, and rounds are spaced so that listing takes at most `POLL_DUTY` of the
        time (at least `POLL_SECONDS` apart). The drain time comes from the jobs' own `updated_at`,
        not from when this loop noticed them.
        """
        pending_by_user: dict[str, set[str]] = defaultdict(set)
        for job_id, spec in self.accepted.items():
            pending_by_user[spec.user].add(job_id)
        last_log = time.monotonic()
        max_pages = self.sc.jobs // 100 + 5
        while any(pending_by_user.values()) and time.monotonic() < deadline:
            round_started = time.monotonic()
            for user, pending in pending_by_user.items():
                unseen, cursor = set(pending), None
                for _ in range(max_pages):
                    if not unseen:
                        break
                    params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
                    try:
                        response = api.get("/v1/generations", params=params, headers=self.headers(user))
                    except httpx.HTTPError:
                        break
                    if response.status_code != 200:
                        break
                    page = response.json()
                    for item in page["items"]:
                        unseen.discard(item["id"])
                        if item["id"] in pending and item["status"] in TERMINAL:
                            pending.discard(item["id"])
                            self.views[item["id"]] = item
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
            if time.monotonic() - last_log > 10:
                last_log = time.monotonic()
                self.log(f"  {len(self.views)}/{len(self.accepted)} terminal")
            took = time.monotonic() - round_started
            time.sleep(max(POLL_SECONDS - took, took * (1 - POLL_DUTY) / POLL_DUTY))

    def confirm(self, api: httpx.Client) -> None:
        """One GET /v1/generations/{id} per accepted job: the state the invariants are checked on."""

        def get(item: tuple[str, JobSpec]) -> tuple[str, dict | str]:
            job_id, spec = item
            try:
                response = api.get(f"/v1/generations/{job_id}", headers=self.headers(spec.user))
            except httpx.HTTPError as error:
                return job_id, type(error).__name__
            if response.status_code != 200:
                return job_id, f"HTTP {response.status_code} {response.text[:300]}"
            return job_id, response.json()

        with ThreadPoolExecutor(4, thread_name_prefix="chaos-get") as pool:
            for job_id, view in pool.map(get, self.accepted.items()):
                if not isinstance(view, dict):
                    self.report.violations.append(f"job {job_id}: GET failed: {view}")
                    continue
                self.views[job_id] = view
                self.report.statuses[view["status"]] += 1
                if view["status"] == "FAILED":
                    self.report.failed_by_code[(view.get("error") or {}).get("code", "?")] += 1

    def record_times(self, started: datetime) -> None:
        ends = []
        for view in self.views.values():
            if view["status"] in TERMINAL:
                created = datetime.fromisoformat(view["created_at"])
                updated = datetime.fromisoformat(view["updated_at"])
                self.report.times_to_terminal.append((updated - created).total_seconds())
                ends.append(updated)
        if ends:
            self.report.drain_seconds = (max(ends) - started).total_seconds()

    def queue_depths(self) -> dict[str, int]:
        depths = {}
        names = {
            "ApproximateNumberOfMessages": "visible",
            "ApproximateNumberOfMessagesNotVisible": "in flight",
            "ApproximateNumberOfMessagesDelayed": "delayed",
        }
        for queue in ("SubmitQueue", "EventsQueue"):
            attrs = self.sqs.get_queue_attributes(QueueUrl=self.ids[queue], AttributeNames=list(names))
            for attr, label in names.items():
                count = int(attrs["Attributes"].get(attr, 0))
                if count:
                    depths[f"{queue} {label}"] = count
        return depths

    def settle(self, deadline: float) -> bool:
        """Wait for queues and callbacks to go quiet, so the DLQ check sees the final state.

        Submit messages that are only delayed are harmless (each is a re-sent "try again" for a job
        that is already submitted, and is skipped when it arrives), so they do not hold up settling.
        """
        quiet = 0
        while time.monotonic() < deadline:
            depths = self.queue_depths()
            busy = {k: v for k, v in depths.items() if k != "SubmitQueue delayed"}
            stats = self.stack.simulator.stats()
            deliveries = (
                stats["generations_completed"]
                + stats["generations_failed"]
                - stats["callbacks_dropped"]
                + stats["callbacks_duplicated"]
            )
            callbacks_done = stats["callbacks_sent"] + stats["callbacks_failed"] >= deliveries
            if not busy and callbacks_done and not stats["in_flight"] and not stats["queued"]:
                quiet += 1
                if quiet >= 3:
                    self.report.queues_left = depths
                    return True
            else:
                quiet = 0
            time.sleep(1.0)
        self.report.queues_left = self.queue_depths()
        return False

    # --- invariants ---
    def verify(self) -> None:
        report, violations = self.report, self.report.violations
        for job_id, spec in self.accepted.items():
            view = self.views.get(job_id)
            if view is None or view["status"] not in TERMINAL:
                violations.append(
                    f"job {job_id} ({spec.tag}) not terminal: {view['status'] if view else 'unknown'}; "
                    f"stored: {self.stored_state(job_id)}"
                )
        if not report.settled:
            violations.append(f"queues or callbacks did not settle: {report.queues_left}")

        # Generations are mapped to jobs through our own records (each job's generation id) and the
        # simulator's log of every generation it created: prompts are shared, so they prove nothing.
        generations = self.stack.simulator.generations
        log = {entry["id"]: entry for entry in self.stack.simulator.generation_log()}
        self.items = {job_id: self.job_item(job_id) for job_id in self.accepted}
        owners: dict[str, list[str]] = defaultdict(list)
        for job_id, item in self.items.items():
            if item.get("generation_id"):
                owners[item["generation_id"]].append(job_id)
        for generation_id, jobs in owners.items():
            if len(jobs) > 1:
                violations.append(f"generation {generation_id} is recorded by {len(jobs)} jobs: {jobs}")
        for generation_id, entry in log.items():
            if generation_id not in owners:
                report.orphan_generations += 1
                violations.append(
                    f"generation {generation_id} (seed {entry.get('seed')}, answer {entry.get('answer')})"
                    " was paid for but no accepted job owns it"
                )

        bucket = self.ids["OutputBucket"]
        with (
            httpx.Client(timeout=30) as cdn,
            ThreadPoolExecutor(8, thread_name_prefix="chaos-verify") as pool,
        ):
            results = pool.map(
                lambda item: self.verify_job(item[0], item[1], generations, log, cdn, bucket),
                self.accepted.items(),
            )
            for problems, images, objects, generation_count in results:
                violations.extend(problems)
                report.images_verified += images
                report.objects_in_bucket += objects
                report.generations_per_job[generation_count] += 1

        report.in_flight_left = self.in_flight()
        if report.in_flight_left != 0:
            violations.append(f"semaphore in_flight is {report.in_flight_left}, not 0")
        if self.report.simulator.get("in_flight"):
            violations.append(f"simulator still runs {self.report.simulator['in_flight']} generations")
        for name in ("SubmitDLQ", "EventsDLQ"):
            report.dlq[name] = self.drain_dlq(name)
            for message in report.dlq[name]:
                violations.append(f"{name} holds a message: {message}")

    def verify_job(
        self,
        job_id: str,
        spec: JobSpec,
        generations: Any,
        log: dict[str, dict],
        cdn: httpx.Client,
        bucket: str,
    ) -> tuple[list[str], int, int, int]:
        problems: list[str] = []
        where = f"job {job_id} ({spec.tag})"
        item = self.items[job_id]
        generation_id = item.get("generation_id")
        prefix = f"outputs/{spec.user}/{job_id}/"
        listing = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        keys = sorted(o["Key"] for o in listing.get("Contents", []))
        view = self.views.get(job_id) or {}
        status = view.get("status")
        record = generations.get(generation_id) if generation_id else None
        entry = log.get(generation_id) if generation_id else None
        if status in TERMINAL and generation_id is None and status != "FAILED":
            problems.append(f"{where}: {status} but no generation id in DynamoDB")
        elif generation_id and (record is None or entry is None):
            problems.append(f"{where}: generation {generation_id} is not one the simulator made")
        elif entry is not None:
            # The job's own: what it asked for, with its own seed.
            sent = entry["request"]
            asked = (spec.body["prompt"], spec.body["width"], spec.body["height"], spec.body["num_images"])
            got = (sent.get("prompt"), sent.get("width"), sent.get("height"), sent.get("num_images"))
            if asked != got or entry.get("seed") != item.get("leonardo_seed"):
                problems.append(
                    f"{where}: generation {generation_id} was made for another request "
                    f"({got}, seed {entry.get('seed')}; "
                    f"the job has {asked}, seed {item.get('leonardo_seed')})"
                )
        generation_count = 1 if generation_id else 0

        verified = 0
        if status == "COMPLETE":
            wanted = spec.body["num_images"]
            expected_keys = [f"{prefix}{i}.png" for i in range(wanted)]
            if keys != expected_keys:
                problems.append(f"{where}: COMPLETE with objects {keys}, expected {expected_keys}")
            if len(view.get("images", [])) != wanted:
                problems.append(f"{where}: COMPLETE with {len(view.get('images', []))} of {wanted} images")
            if record is not None:
                if record.status != "COMPLETE" or len(record.images) != wanted:
                    problems.append(
                        f"{where}: COMPLETE but Leonardo says {record.status}/{len(record.images)}"
                    )
                by_index = {i["index"]: i for i in view.get("images", [])}
                for image in record.images:
                    key = f"{prefix}{image.index}.png"
                    if key not in keys:
                        continue
                    shown = by_index.get(image.index, {})
                    if shown.get("leonardo_image_id") != image.id:
                        problems.append(f"{where}: image {image.index} is not Leonardo image {image.id}")
                    original = cdn.get(image.url)
                    stored = self.s3.get_object(Bucket=bucket, Key=key)
                    if original.status_code != 200 or stored["Body"].read() != original.content:
                        problems.append(f"{where}: {key} differs from {image.url}")
                    elif stored.get("Metadata", {}).get("source-id") != image.id:
                        problems.append(f"{where}: {key} carries source-id {stored.get('Metadata')}")
                    else:
                        verified += 1
        elif status == "FAILED":
            code = (view.get("error") or {}).get("code")
            if code not in EXPECTED_FAILURES:
                problems.append(f"{where}: FAILED with unexpected code {code!r}: {view.get('error')}")
            elif record is not None and record.status != "FAILED":
                problems.append(f"{where}: FAILED ({code}) but Leonardo says {record.status}")
            if keys:
                problems.append(f"{where}: FAILED but has objects {keys}")
        return problems, verified, len(keys), generation_count

    def job_item(self, job_id: str) -> dict:
        item = self.ddb.get_item(
            TableName=self.ids["JobsTable"],
            Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}},
            ConsistentRead=True,
        ).get("Item", {})
        return dynamo.plain_item(item) if item else {}

    def stored_state(self, job_id: str) -> dict:
        item = self.ddb.get_item(
            TableName=self.ids["JobsTable"],
            Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}},
            ConsistentRead=True,
        ).get("Item", {})
        fields = ("status", "slot_held", "slot_acquired_at", "submit_attempts", "generation_id", "checks")
        return {f: next(iter(item[f].values())) for f in fields if f in item}

    def in_flight(self) -> int:
        item = self.ddb.get_item(
            TableName=self.ids["JobsTable"],
            Key=dynamo.SEMAPHORE_KEY,
            ConsistentRead=True,
        ).get("Item", {})
        return int(item.get("in_flight", {}).get("N", "0"))

    def drain_dlq(self, name: str) -> list[str]:
        """Every message parked in a DLQ, with what the job looks like now (the likely reason)."""
        described = []
        for _ in range(100):
            messages = self.sqs.receive_message(
                QueueUrl=self.ids[name],
                MaxNumberOfMessages=10,
                VisibilityTimeout=300,
                AttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
                described.append(
                    f"{message['Body'][:300]} (receives {receives}; {self.diagnose(message['Body'])})"
                )
        return described

    def diagnose(self, body: str) -> str:
        try:
            data = json.loads(body)
        except ValueError:
            return "body is not JSON"
        job_id = data.get("job_id")
        if not job_id and data.get("generation_id"):
            mapping = self.ddb.get_item(
                TableName=self.ids["JobsTable"],
                Key={"pk": {"S": f"GEN#{data['generation_id']}"}, "sk": {"S": "GEN"}},
            ).get("Item")
            job_id = mapping["job_id"]["S"] if mapping else None
            if not job_id:
                return "no job for this generation"
        view = self.views.get(job_id or "")
        return f"job {job_id} is {view['status'] if view else 'unknown'}"


# ----- command line -------------------------------------------------------------------------------


@contextmanager
def _quiet_runner_warnings() -> Iterator[None]:
    """The runner logs one warning per crashed batch (the table counts them instead), and moto's
    server one line per request."""
    levels = {"stackrunner.pollers": logging.ERROR, "werkzeug": logging.CRITICAL}
    saved = {name: logging.getLogger(name).level for name in levels}
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


HEADROOM = 1.5  # the drain deadline over the time to drain, for seeds 7, 13 and 42 (issue 10)


def figures(report: Report, deadline: float) -> bench_report.Report:
    """The run in the benches' one table and JSON (bench/report.py): `chaos_seed<seed>.json`."""
    parameters = {"jobs": report.jobs, "seed": report.seed, "deadline": deadline}
    out = bench_report.Report(f"chaos_seed{report.seed}", parameters=parameters)
    unfinished = report.accepted - report.terminal
    out.add("jobs accepted / planned", f"{report.accepted}/{report.jobs}")
    out.add("invariant violations", len(report.violations), target="<= 0",
            note="; ".join(report.violations[:3]))  # fmt: skip
    out.add("jobs not terminal at the deadline", unfinished, target="<= 0")
    headroom = deadline / report.drain_seconds if report.drain_seconds and not unfinished else None
    out.add("deadline / drain", headroom, "ratio", f">= {HEADROOM}",
            note=f"drain {report.drain_seconds:.0f} s, deadline {deadline:.0f} s")  # fmt: skip
    out.add("time to submit all", report.submit_seconds, "s")
    out.add("throughput", report.throughput, "jobs/s")
    out.add("time to terminal p95", report.percentile(0.95), "s")
    out.add("Leonardo generations per job", _counts(report.generations_per_job, "x") or "-")
    out.add("wall time", report.wall_seconds, "s")
    out.raw = {"rows": dict(report.rows()), "violations": report.violations, "dlq": report.dlq,
               "times_to_terminal": report.times_to_terminal}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs to create (default 200)")
    parser.add_argument("--seed", type=int, default=7, help="seed of every fault and request drawn")
    parser.add_argument("--users", type=int, default=8, help="users the jobs are spread over")
    parser.add_argument(
        "--deadline", type=float, default=None, help="seconds to drain (default 120 + 0.5/job)"
    )
    parser.add_argument("--results", default=None, help="directory for the JSON (default bench/results)")
    args = parser.parse_args(argv)
    scenario = Scenario(jobs=args.jobs, seed=args.seed, users=args.users, drain_deadline=args.deadline)
    # Powertools prints EMF metric blobs to stdout every 100 values, even with metrics disabled:
    # keep stdout for the table.
    with _quiet_runner_warnings(), redirect_stdout(sys.stderr):
        report = run(args.jobs, args.seed, scenario=scenario)
    print(report.table())
    print(f"(wall time {report.wall_seconds:.0f}s)")
    figures(report, scenario.deadline).finish(args.results)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
