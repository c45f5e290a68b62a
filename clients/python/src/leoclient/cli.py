"""`leo`, the command line over `leoclient.Client`."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from leoclient import config as leo_config
from leoclient._core import DownloadResult, PollPolicy
from leoclient.client import Client
from leoclient.errors import BatchInvalidError, LeoError, WaitTimeoutError
from leoclient.models import JOB_STATES, BatchView, JobView

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_ENDED_BADLY = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """\b
Configuration (first found wins): --api-url/--token, the --profile (or LEO_PROFILE) section of the
config file, LEO_API_URL/LEO_TOKEN, then its [default] section. The file is
~/.config/leo/config.toml, or the path in LEO_CONFIG.

\b
Exit codes:
  0    ok
  1    API error (printed as "error: <code>: <message>")
  2    usage or configuration error
  3    the job or batch ended FAILED/CANCELLED (for a batch: some items did)
  4    timed out waiting
  130  interrupted (Ctrl-C; a job or batch keeps running on the server)
"""

type ClientFactory = Callable[[leo_config.ClientConfig], Client]


def default_client_factory(cfg: leo_config.ClientConfig) -> Client:
    return Client(cfg.api_url, token=cfg.token, poll=PollPolicy(initial=1.0, factor=1.5, maximum=5.0))


@dataclass
class App:
    """What every command shares: how to build the client, the consoles, and the output mode."""

    client_factory: ClientFactory
    env: dict[str, str]
    api_url: str | None = None
    token: str | None = None
    profile: str | None = None
    json: bool = False
    # No markup (prompts and paths are shown as they are) and no hard wrapping of long lines.
    out: Console = field(default_factory=lambda: Console(highlight=False, markup=False, soft_wrap=True))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, markup=False, soft_wrap=True)
    )
    _client: Client | None = None

    def client(self) -> Client:
        if self._client is None:
            cfg = leo_config.resolve(self.env, api_url=self.api_url, token=self.token, profile=self.profile)
            self._client = self.client_factory(cfg)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def emit(self, payload: Any) -> None:
        """Machine-readable output: one JSON document on stdout."""
        sys.stdout.write(json.dumps(_jsonable(payload), sort_keys=False) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, DownloadResult):
        return {
            "job_id": value.job_id,
            "index": value.index,
            "path": None if value.path is None else str(value.path),
            "action": value.action,
            "size": value.size,
        }
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(App).json = True


json_option = click.option(
    "--json",
    "json_output",
    is_flag=True,
    expose_value=False,
    callback=_set_json,
    help="Print machine-readable JSON only.",
)
pass_app = click.make_pass_decorator(App)


# -- rendering -------------------------------------------------------------------------------------


def job_table(job: JobView) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_row("id", job.id)
    table.add_row("status", job.status)
    table.add_row("kind", job.kind)
    table.add_row("prompt", str(job.request.get("prompt", "")))
    table.add_row("created", job.created_at.isoformat())
    if job.cost is not None:
        table.add_row("cost", f"{job.cost.amount} {job.cost.unit}")
    if job.error is not None:
        table.add_row("error", f"{job.error.code}: {job.error.message}")
    for image in job.images:
        table.add_row(f"image {image.index}", image.url or "(withheld)")
    return table


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@dataclass
class BatchProgress:
    """Per-state counts, a bar, the observed rate and an ETA, for `rich.live.Live`."""

    clock: Callable[[], float] = time.monotonic
    first: tuple[float, int] | None = None
    rate: float | None = None

    def render(self, batch: BatchView) -> Group:
        now, done = self.clock(), batch.done
        if self.first is None:
            self.first = (now, done)
        elif now > self.first[0]:
            self.rate = (done - self.first[1]) / (now - self.first[0])
        remaining = max(batch.items - done, 0)
        eta: float | None = batch.eta_seconds
        if eta is None and self.rate:
            eta = remaining / self.rate
        title = Text.assemble(("batch ", "bold"), batch.id, f"  {batch.name or ''}  ", (batch.status, "cyan"))
        bar = Table.grid(padding=(0, 1))
        bar.add_row(ProgressBar(total=max(batch.items, 1), completed=done, width=40), f"{done}/{batch.items}")
        counts = "  ".join(f"{state} {batch.counts.get(state, 0)}" for state in JOB_STATES)
        rate = "-" if self.rate is None else f"{self.rate:.2f}/s"
        credits = (
            f"credits spent {batch.credits.spent} reserved {batch.credits.reserved} {batch.credits.unit}"
        )
        return Group(title, bar, Text(counts), Text(f"rate {rate}  eta {_duration(eta)}  {credits}"))


# -- the commands ----------------------------------------------------------------------------------


@click.group(epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--api-url", help="Base URL of the API (overrides LEO_API_URL and the config file).")
@click.option("--token", help="Bearer token (overrides LEO_TOKEN and the config file).")
@click.option("--profile", help="A [profile.NAME] section of the config file.")
@json_option
@pass_app
def cli(app: App, api_url: str | None, token: str | None, profile: str | None) -> None:
    """Generate images with the Leonardo generation backend."""
    app.api_url, app.token, app.profile = api_url, token, profile


def _ended(code: str, message: str) -> int:
    """A job or batch that ended without (all) its images: exit 3, with the reason on stderr."""
    print(f"error: {code}: {message}", file=sys.stderr)
    return EXIT_ENDED_BADLY


def _job_outcome(job: JobView) -> int:
    if job.status == "COMPLETE":
        return EXIT_OK
    if job.error is not None:
        return _ended(job.error.code, job.error.message)
    return _ended(f"job_{job.status.lower()}", f"job {job.id} ended {job.status}")


def _items_failed(count: int) -> int:
    return _ended("items_failed", f"{count} items ended FAILED or CANCELLED")


@cli.command()
@click.argument("prompt")
@click.option("--width", type=click.IntRange(32, 4096), help="Image width.")
@click.option("--height", type=click.IntRange(32, 4096), help="Image height.")
@click.option("--model", "model_id", help="Model id (see the API's /v1/models).")
@click.option("--num-images", type=click.IntRange(1, 16), help="How many images.")
@click.option("--quality", type=click.Choice(["draft", "final"]), help="Cost/quality preset.")
@click.option("--seed", type=int)
@click.option("--negative-prompt")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@click.option("--timeout", type=float, default=600.0, show_default=True, help="Seconds to wait for the job.")
@click.option("--idempotency-key", help="Reuse a key to get the same job back instead of a new one.")
@json_option
@pass_app
def generate(
    app: App, /, prompt: str, out_dir: Path, timeout: float, idempotency_key: str | None, **fields: Any
) -> int:
    """Create a job, wait for it, and download its images into --out."""
    client = app.client()
    job = client.create_generation(prompt, idempotency_key=idempotency_key, **fields)
    try:
        if app.json:
            job = client.wait(job.id, timeout=timeout)
        else:
            with app.err.status(f"{job.id} {job.status}") as status:
                for view in client.watch(job.id, timeout=timeout):
                    status.update(f"{view.id} {view.status}")
                    job = view
    except KeyboardInterrupt:
        print(f"interrupted: job {job.id} keeps running; `leo get {job.id}`", file=sys.stderr)
        raise
    files = client.download(job, out_dir) if job.status == "COMPLETE" else []
    if app.json:
        app.emit({"job": job, "files": files})
    else:
        app.out.print(job_table(job))
        for result in files:
            app.out.print(f"{result.action} {result.path or f'image {result.index} (withheld)'}")
    return _job_outcome(job)


@cli.command()
@click.argument("job_id")
@json_option
@pass_app
def get(app: App, job_id: str) -> int:
    """Show one job."""
    job = app.client().get(job_id)
    if app.json:
        app.emit(job)
    else:
        app.out.print(job_table(job))
    return EXIT_OK


@cli.command()
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@json_option
@pass_app
def history(app: App, limit: int) -> int:
    """Your latest jobs, newest first."""
    jobs = list(app.client().history(page_size=min(limit, 100), max_items=limit))
    if app.json:
        app.emit(jobs)
        return EXIT_OK
    table = Table("id", "status", "kind", "created", "images", "prompt")
    for job in jobs:
        prompt = str(job.request.get("prompt", ""))
        table.add_row(
            job.id, job.status, job.kind, job.created_at.isoformat(), str(len(job.images)), prompt[:40]
        )
    app.out.print(table)
    return EXIT_OK


@cli.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--purpose", type=click.Choice(["init", "mask", "batch_manifest"]), default="init", show_default=True
)
@json_option
@pass_app
def upload(app: App, path: Path, purpose: str) -> int:
    """Upload a file (a source image, a mask, or a JSONL batch manifest)."""
    content_type = "application/jsonl" if purpose == "batch_manifest" else None
    view = app.client().upload_file(path, purpose=purpose, content_type=content_type)
    if app.json:
        app.emit(view)
    else:
        app.out.print(f"{view.id} {view.status} {view.purpose} {view.content_type} {view.size} bytes")
    return EXIT_OK


@cli.group()
def batch() -> None:
    """Batches: many generations from one JSONL manifest."""


def _batch_outcome(view: BatchView) -> int:
    if view.status == "CANCELLED":
        return _ended("batch_cancelled", f"batch {view.id} was cancelled")
    return _items_failed(view.failed) if view.failed else EXIT_OK


def _watch(app: App, batch_id: str, timeout: float | None) -> BatchView:
    client = app.client()
    if app.json:
        return client.wait_batch(batch_id, timeout=timeout)
    progress = BatchProgress()
    view: BatchView | None = None
    try:
        if app.err.is_terminal:
            with Live(console=app.err, refresh_per_second=4) as live:
                for view in client.watch_batch(batch_id, timeout=timeout):
                    live.update(progress.render(view), refresh=True)
        else:  # a log, not a screen: the final state only
            last: Group | None = None
            for view in client.watch_batch(batch_id, timeout=timeout):
                last = progress.render(view)
            app.err.print(last or "")
    except KeyboardInterrupt:
        print(f"interrupted: batch {batch_id} keeps running; `leo batch watch {batch_id}`", file=sys.stderr)
        raise
    assert view is not None
    app.out.print(
        f"batch {view.id} {view.status}: " + ", ".join(f"{k} {v}" for k, v in view.counts.items() if v)
    )
    return view


@batch.command()
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="A name to find the batch by.")
@click.option("--skip-invalid", is_flag=True, help="Start the valid lines even if some are invalid.")
@click.option("--complete-within-hours", type=click.IntRange(1), help="Items still waiting then end FAILED.")
@click.option("--no-watch", is_flag=True, help="Print the batch id and return at once.")
@click.option("--timeout", type=float, default=None, help="Seconds to watch before giving up (exit 4).")
@click.option("--idempotency-key", help="Reuse a key to get the same batch back.")
@json_option
@pass_app
def submit(
    app: App,
    manifest: Path,
    name: str | None,
    skip_invalid: bool,
    complete_within_hours: int | None,
    no_watch: bool,
    timeout: float | None,
    idempotency_key: str | None,
) -> int:
    """Upload a JSONL manifest (one generation request with a custom_id per line) and start it."""
    created = app.client().create_batch_from_file(
        manifest,
        name=name,
        skip_invalid=skip_invalid or None,
        complete_within_hours=complete_within_hours,
        idempotency_key=idempotency_key,
    )
    if not app.json:
        skipped = f" ({created.skipped} invalid lines skipped)" if created.skipped else ""
        app.err.print(f"batch {created.id}: {created.items} items{skipped}")
    if no_watch:
        if app.json:
            app.emit(created)
        else:
            app.out.print(created.id)
        return EXIT_OK
    view = _watch(app, created.id, timeout)
    if app.json:
        app.emit(view)
    return _batch_outcome(view)


@batch.command()
@click.argument("batch_id")
@click.option("--timeout", type=float, default=None, help="Seconds to watch before giving up (exit 4).")
@json_option
@pass_app
def watch(app: App, batch_id: str, timeout: float | None) -> int:
    """Follow a batch until it ends: per-state counts, rate and ETA."""
    view = _watch(app, batch_id, timeout)
    if app.json:
        app.emit(view)
    return _batch_outcome(view)


@batch.command("get")
@click.argument("batch_id")
@json_option
@pass_app
def batch_get(app: App, batch_id: str) -> int:
    """Show a batch once."""
    view = app.client().get_batch(batch_id)
    if app.json:
        app.emit(view)
    else:
        app.out.print(BatchProgress().render(view))
    return EXIT_OK


@batch.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@json_option
@pass_app
def batch_list(app: App, limit: int) -> int:
    """Your batches, newest first."""
    views = []
    for view in app.client().batches(page_size=min(limit, 100)):
        views.append(view)
        if len(views) >= limit:
            break
    if app.json:
        app.emit(views)
        return EXIT_OK
    table = Table("id", "name", "status", "items", "done", "failed", "created")
    for view in views:
        row = (view.id, view.name or "", view.status, str(view.items), str(view.done), str(view.failed))
        table.add_row(*row, view.created_at.isoformat())
    app.out.print(table)
    return EXIT_OK


@batch.command()
@click.argument("batch_id")
@click.option(
    "--download",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Download every image into DIR (files already complete are skipped).",
)
@click.option("--page-size", type=click.IntRange(1, 500), default=None, help="Lines per request.")
@click.option(
    "--parallel", type=click.IntRange(1, 32), default=4, show_default=True, help="Downloads at once."
)
@json_option
@pass_app
def results(app: App, batch_id: str, directory: Path | None, page_size: int | None, parallel: int) -> int:
    """Print the results as JSONL (manifest order), or download every image with --download DIR."""
    client = app.client()
    statuses: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    files: list[DownloadResult] = []

    def collect(downloads: list[DownloadResult]) -> None:
        for download in downloads:
            actions[download.action] += 1
            files.append(download)
            if not app.json and download.action == "downloaded":
                app.err.print(f"downloaded {download.path}")

    pool = ThreadPoolExecutor(max_workers=parallel)
    pending: deque[Future[list[DownloadResult]]] = deque()
    try:
        for result in client.batch_results(batch_id, page_size=page_size):
            statuses[result.status] += 1
            if directory is None:
                sys.stdout.write(result.model_dump_json() + "\n")
                continue
            pending.append(pool.submit(client.download_result, result, directory))
            while len(pending) > parallel * 4:  # a bounded window, reported in manifest order
                collect(pending.popleft().result())
        while pending:
            collect(pending.popleft().result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if directory is not None:
        summary = {
            "downloaded": actions["downloaded"],
            "skipped": actions["skipped"],
            "withheld": actions["withheld"],
        }
        if app.json:
            app.emit({**summary, "statuses": dict(statuses), "files": files})
        else:
            app.out.print(
                f"{summary['downloaded']} downloaded, {summary['skipped']} already complete, "
                f"{summary['withheld']} withheld; items: "
                + ", ".join(f"{k} {v}" for k, v in statuses.items())
            )
    failed = statuses["FAILED"] + statuses["CANCELLED"]
    return _items_failed(failed) if failed else EXIT_OK


@batch.command()
@click.argument("batch_id")
@json_option
@pass_app
def cancel(app: App, batch_id: str) -> int:
    """Cancel the items still waiting; items already at Leonardo finish."""
    view = app.client().cancel_batch(batch_id)
    if app.json:
        app.emit(view)
    else:
        app.out.print(f"batch {view.id} {view.status}")
    return EXIT_OK


# -- entry point -----------------------------------------------------------------------------------


def _fail(app: App, code: str, message: str, exit_code: int, details: Any = None) -> int:
    print(f"error: {code}: {message}", file=sys.stderr)
    if app.json:
        envelope: dict[str, Any] = {"code": code, "message": message}
        if details is not None:
            envelope["details"] = details
        app.emit({"error": envelope})
    return exit_code


def _report_invalid_lines(error: BatchInvalidError) -> None:
    counts = (
        f"{error.invalid} invalid lines"
        if error.valid is None
        else f"{error.valid} valid, {error.invalid} invalid lines"
    )
    print(f"  {counts}:", file=sys.stderr)
    for line in error.lines[:20]:
        print(f"  line {line.line} ({line.custom_id or '-'}): {line.code}: {line.message}", file=sys.stderr)
    if error.invalid > 20 or error.truncated:
        print(
            "  ... (--json prints the whole report; --skip-invalid starts the valid lines)", file=sys.stderr
        )


def main(argv: Sequence[str] | None = None, *, client_factory: ClientFactory | None = None) -> int:
    """Run `leo` and return its exit code (the console script exits with it)."""
    app = App(client_factory=client_factory or default_client_factory, env=dict(os.environ))
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="leo", standalone_mode=False, obj=app)
        return result if isinstance(result, int) else EXIT_OK
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as usage:
        usage.show()
        return EXIT_USAGE
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except leo_config.ConfigError as bad:
        return _fail(app, "config", str(bad), EXIT_USAGE)
    except WaitTimeoutError as late:
        return _fail(app, late.code, late.message, EXIT_TIMEOUT, late.details)
    except BatchInvalidError as refused:
        code = _fail(app, refused.code, refused.message, EXIT_API_ERROR, refused.details)
        if not app.json:
            _report_invalid_lines(refused)
        return code
    except LeoError as failed:
        return _fail(app, failed.code, failed.message, EXIT_API_ERROR, failed.details)
    finally:
        app.close()


if __name__ == "__main__":
    raise SystemExit(main())
