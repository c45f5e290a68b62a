"""Argument parsing and printing; the work is in dlq.py and jobs.py."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from ops import account, dlq, jobs, usage
from ops.stack import ResourceNotFound, Stack, default_stack_name
from ops.webhooks_cli import COMMANDS as WEBHOOK_COMMANDS
from ops.webhooks_cli import add_parser as add_webhook_parser

_COMMON_DEFAULTS = {"stack_name": None, "local": False, "endpoint_url": None, "region": None, "json": False}


def _common() -> argparse.ArgumentParser:
    # SUPPRESS lets these options go before or after the command without one overwriting the other.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument(
        "--stack-name", help="CloudFormation stack (default: samconfig.toml's, plus -local with --local)"
    )
    common.add_argument(
        "--local", action="store_true", help="the local stack (make run): local AWS at 127.0.0.1:4566"
    )
    common.add_argument("--endpoint-url", help="AWS endpoint (default: AWS itself; with --local, :4566)")
    common.add_argument("--region", help="AWS region (default: the usual AWS configuration)")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="python -m ops", description="On-call operations (see docs/runbook.md).", parents=[common]
    )
    groups = parser.add_subparsers(dest="group", required=True)

    dlq_parser = groups.add_parser("dlq", help="dead-letter queues")
    dlq_commands = dlq_parser.add_subparsers(dest="command", required=True)
    inspect = dlq_commands.add_parser("inspect", parents=[common], help="count and preview parked messages")
    inspect.add_argument("queue", choices=dlq.DLQS)
    inspect.add_argument("--queue-url", help="the DLQ's URL, instead of finding it in the stack")
    inspect.add_argument("--limit", type=int, default=50, help="messages to show (default 50)")
    inspect.add_argument("--preview-chars", type=int, default=400)
    redrive = dlq_commands.add_parser("redrive", parents=[common], help="move parked messages back")
    redrive.add_argument("queue", choices=dlq.DLQS)
    redrive.add_argument("--queue-url", help="the DLQ's URL, instead of finding it in the stack")
    redrive.add_argument("--to", help="destination queue URL (default: the queue that redrives into the DLQ)")
    redrive.add_argument("--max", type=int, help="move at most N messages (moves them one batch at a time)")
    redrive.add_argument("--dry-run", action="store_true", help="say what would move; change nothing")
    redrive.add_argument("--wait", type=float, default=60.0, help="seconds to follow a move task")

    job_parser = groups.add_parser("job", help="one job")
    job_commands = job_parser.add_subparsers(dest="command", required=True)
    show = job_commands.add_parser("show", parents=[common], help="the job record, secrets redacted")
    show.add_argument("job_id", help="our job id, or a Leonardo generation id")
    show.add_argument("--table", help="the jobs table name, instead of finding it in the stack")
    reconcile = job_commands.add_parser(
        "reconcile", parents=[common], help="run the reconciler's check on one job now"
    )
    reconcile.add_argument("job_id")
    reconcile.add_argument("--table", help="the jobs table name, instead of finding it in the stack")

    orphans_parser = groups.add_parser("orphans", help="generations of our Leonardo account no job owns")
    orphans_commands = orphans_parser.add_subparsers(dest="command", required=True)
    listing = orphans_commands.add_parser("list", parents=[common], help="orphans found, newest first")
    listing.add_argument("--limit", type=int, default=50, help="orphans to show (default 50)")
    listing.add_argument("--table", help="the jobs table name, instead of finding it in the stack")

    account_parser = groups.add_parser("account", help="the Leonardo account as a whole")
    account_commands = account_parser.add_subparsers(dest="command", required=True)
    account_show = account_commands.add_parser(
        "show", parents=[common], help="whether submits are held (the account block) and the orphan sweep"
    )
    account_show.add_argument("--table", help="the jobs table name, instead of finding it in the stack")

    usage_parser = groups.add_parser(
        "usage", parents=[common], help="what users spend: one user's budgets and jobs, or the top spenders"
    )
    who = usage_parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="one user (the JWT sub): their day, month and latest jobs")
    who.add_argument(
        "--top", type=_positive, metavar="N", help="the N users who committed the most today and this month"
    )
    usage_parser.add_argument(
        "--date", type=_day, help="the UTC day (YYYY-MM-DD) to look at, and its month (default: today)"
    )
    usage_parser.add_argument(
        "--jobs", type=_positive, default=10, help="latest jobs to show with --user (default 10)"
    )
    usage_parser.add_argument(
        "--plans", help="a plans document (JSON file) for budgets, instead of the stack's"
    )
    usage_parser.add_argument("--table", help="the jobs table name, instead of finding it in the stack")
    usage_parser.set_defaults(command=None)
    add_webhook_parser(groups, common)
    return parser


def _positive(text: str) -> int:
    number = int(text)
    if not 1 <= number <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return number


def _day(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as error:
        raise argparse.ArgumentTypeError("not a day as YYYY-MM-DD") from error


def _stack(args: argparse.Namespace) -> Stack:
    overrides = {}
    if getattr(args, "queue_url", None):
        overrides[args.queue] = args.queue_url
    if getattr(args, "table", None):
        overrides["JobsTable"] = args.table
    return Stack(
        name=args.stack_name or default_stack_name(args.local),
        local=args.local,
        endpoint_url=args.endpoint_url,
        region=args.region,
        overrides=overrides,
    )


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text)


def _dlq_inspect(args: argparse.Namespace, stack: Stack) -> int:
    sqs = stack.client("sqs")
    url = stack.physical_id(args.queue)
    count = dlq.counts(sqs, url)
    messages = dlq.inspect(sqs, url, limit=args.limit, preview_chars=args.preview_chars)
    lines = [f"{args.queue}: {count['visible']} visible, {count['in_flight']} in flight  ({url})"]
    for m in messages:
        lines.append(f"- {m.message_id}  received {m.receive_count}x  sent {m.sent_at}")
        lines.append(f"    {m.preview}")
    _emit(args, {"queue": args.queue, "url": url, **count, "messages": [asdict(m) for m in messages]},
          "\n".join(lines))  # fmt: skip
    return 0


def _dlq_redrive(args: argparse.Namespace, stack: Stack) -> int:
    sqs = stack.client("sqs")
    url = stack.physical_id(args.queue)
    destination = args.to or dlq.source_queue(sqs, url)
    report = dlq.redrive(
        sqs, url, destination, max_messages=args.max, dry_run=args.dry_run, wait_for_task=args.wait
    )
    text = "\n".join(
        [
            f"{args.queue} -> {destination}",
            f"method {report.method}: moved {report.moved}, failed {report.failed}, "
            f"{report.remaining} left in the DLQ",
            *([f"move task {report.task_handle}"] if report.task_handle else []),
            *report.notes,
        ]
    )
    _emit(args, asdict(report), text)
    return 1 if report.failed else 0


def _job_show(args: argparse.Namespace, stack: Stack) -> int:
    item = jobs.show(stack.client("dynamodb"), stack.physical_id("JobsTable"), args.job_id)
    if item is None:
        print(f"no job {args.job_id}", file=sys.stderr)
        return 1
    print(json.dumps(item, indent=2, sort_keys=True, default=str))
    return 0


def _job_reconcile(args: argparse.Namespace, stack: Stack) -> int:
    outcome = jobs.reconcile(stack, args.job_id)
    item = jobs.show(stack.client("dynamodb"), stack.physical_id("JobsTable"), args.job_id)
    status = item.get("status") if item else None
    _emit(args, {"job_id": args.job_id, "outcome": outcome, "status": status},
          f"{args.job_id}: {outcome} (status now {status})")  # fmt: skip
    return 1 if outcome == "gone" and item is None else 0


def _orphans_list(args: argparse.Namespace, stack: Stack) -> int:
    found = account.orphans(stack.client("dynamodb"), stack.physical_id("JobsTable"), limit=args.limit)
    lines = [f"{len(found)} orphan generation(s), newest first"]
    for o in found:
        owner = f"  now owned by job {o['owned_by_job']}" if o["owned_by_job"] else ""
        cost = f"  cost {o['cost']}" if o["cost"] is not None else ""
        lines.append(f"- {o['generation_id']}  created {o['created_at']}  {o['status']}{cost}  "
                     f"found {o['found_at']}{owner}")  # fmt: skip
    _emit(args, {"orphans": found}, "\n".join(lines))
    return 0


def _account_show(args: argparse.Namespace, stack: Stack) -> int:
    ddb, table = stack.client("dynamodb"), stack.physical_id("JobsTable")
    block, sweep, balance = (
        account.block(ddb, table),
        account.sweep_state(ddb, table),
        account.balance(ddb, table),
    )
    if block:
        text = (f"BLOCKED ({block['reason']}) since {block['since']}; next probe {block['next_probe_at']} "
                f"after {block.get('probes', 0)} failed probe(s): submits are held")  # fmt: skip
    else:
        text = "not blocked: submits go ahead"
    if sweep:
        text += f"\norphan sweep: last started {sweep.get('started_at')}, reached {sweep.get('reached')}"
    if balance:
        text += f"\nbalance: {balance['amount']} {balance['unit']} (read {balance['read_at']})"
    _emit(args, {"block": block, "orphan_sweep": sweep, "balance": balance}, text)
    return 0


def _usage(args: argparse.Namespace, stack: Stack) -> int:
    ddb, table = stack.client("dynamodb"), stack.physical_id("JobsTable")
    at = args.date or datetime.now(UTC)
    plans = usage.plans_for(stack, args.plans)
    if args.user:
        found = usage.user_usage(ddb, table, args.user, plans=plans, now=at, limit=args.jobs)
        _emit(args, found, _user_usage_text(found))
    else:
        found = usage.top(ddb, table, limit=args.top, plans=plans, now=at)
        _emit(args, found, _top_text(found))
    return 0


def _amounts(row: dict) -> str:
    budget = (
        f" of {row['budget']}, {row['remaining']} left" if row["budget"] is not None else " (no budget known)"
    )
    return f"committed {row['committed']}{budget} (spent {row['spent']}, reserved {row['reserved']})"


def _user_usage_text(found: dict) -> str:
    lines = [f"user {found['user_id']} (logged as user={found['user']}); budgets from {found['plans']}"]
    for p in found["periods"]:
        unit = p["unit"] or ""
        lines.append(f"{p['period']:5} {p['key']:10}  plan {p['plan'] or '?'}  {unit}  {_amounts(p)}, "
                     f"{p['jobs']} job(s), resets {p['resets_at']}")  # fmt: skip
    lines.append(f"latest {len(found['recent_jobs'])} job(s):")
    for job in found["recent_jobs"]:
        charge = job["charge"]
        if charge is None:
            held = "no charge"
        elif charge["state"] == "settled":
            held = f"settled {charge['amount']} {charge['unit']} ({charge['source']})"
            held += f", estimate {charge['estimate']}"
        else:
            held = f"{charge['state']} {charge['estimate']} {charge['unit']}"
        lines.append(f"- {job['id']}  {job['created_at']}  {job['kind']}  {job['status']}  {held}")
    return "\n".join(lines)


def _top_text(found: dict) -> str:
    lines = [f"budgets from {found['plans']}"]
    for period in ("day", "month"):
        block = found[period]
        lines.append(f"top spenders, {period} {block['key']} (by committed = spent + reserved):")
        if not block["spenders"]:
            lines.append("  nobody")
        for rank, row in enumerate(block["spenders"], 1):
            lines.append(f"{rank:3}. {row['user_id']}  (user={row['user']}, plan {row['plan'] or '?'}) "
                         f"{row['unit'] or ''} {_amounts(row)}, {row['jobs']} job(s)")  # fmt: skip
    return "\n".join(lines)


_COMMANDS = {
    ("dlq", "inspect"): _dlq_inspect,
    ("dlq", "redrive"): _dlq_redrive,
    ("job", "show"): _job_show,
    ("job", "reconcile"): _job_reconcile,
    ("orphans", "list"): _orphans_list,
    ("account", "show"): _account_show,
    ("usage", None): _usage,
}
_COMMANDS.update(WEBHOOK_COMMANDS)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name, default in _COMMON_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    try:
        return _COMMANDS[(args.group, args.command)](args, _stack(args))
    except (ResourceNotFound, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
