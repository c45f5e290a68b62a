"""`python -m ops webhooks ...`: the arguments and the printing; the work is in ops/webhooks.py."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from ops import webhooks
from ops.stack import Stack


def add_parser(groups: Any, common: argparse.ArgumentParser) -> None:
    parser = groups.add_parser("webhooks", help="apps' webhook endpoints, deliveries and replays")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", parents=[common], help="register an endpoint; prints its secret once")
    add.add_argument(
        "url", help="https URL on a public address (the local stack also takes http://127.0.0.1)"
    )
    add.add_argument(
        "--events", required=True, help='comma-separated, e.g. "Generation Completed,Generation Failed"'
    )
    add.add_argument("--app", default="default", help="the app this endpoint belongs to (default: default)")
    commands.add_parser("list", parents=[common], help="every endpoint, enabled or not")
    for name, text in (("disable", "stop deliveries to an endpoint"), ("enable", "resume deliveries")):
        command = commands.add_parser(name, parents=[common], help=text)
        command.add_argument("endpoint_id")
    rotate = commands.add_parser(
        "rotate", parents=[common], help="a new secret; the old one signs too for a while"
    )
    rotate.add_argument("endpoint_id")
    rotate.add_argument("--overlap-hours", type=float, default=webhooks.DEFAULT_OVERLAP_HOURS,
                        help="how long the old secret keeps signing (default 24; 0 = stop now)")  # fmt: skip
    remove = commands.add_parser("remove", parents=[common], help="delete an endpoint and its secret")
    remove.add_argument("endpoint_id")
    log = commands.add_parser(
        "deliveries", parents=[common], help="the delivery log of an event or an endpoint"
    )
    which = log.add_mutually_exclusive_group(required=True)
    which.add_argument("event_id", nargs="?", help="an event id (detail.event_id, the webhook-id header)")
    which.add_argument("--endpoint", help="an endpoint's latest deliveries, newest first")
    replay = commands.add_parser(
        "replay", parents=[common], help="deliver stored events again (same webhook-id)"
    )
    replay.add_argument("event_id", nargs="?")
    replay.add_argument("--since", help="ISO 8601 time: replay every event from then ...")
    replay.add_argument("--until", help="... until then (default: now)")
    replay.add_argument("--endpoint", help="to this endpoint only")
    for command in (
        add,
        rotate,
        remove,
        log,
        replay,
        *(commands.choices[n] for n in ("list", "disable", "enable")),
    ):
        command.add_argument("--table", help="the jobs table name, instead of finding it in the stack")


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text)


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _add(args: argparse.Namespace, stack: Stack) -> int:
    try:
        events = webhooks.parse_events(args.events)
        endpoint, secret = webhooks.add(stack, args.url, events, args.app)
    except ValueError as refused:  # UrlRefused included
        print(f"error: {refused}", file=sys.stderr)
        return 2
    text = (f"added {endpoint.endpoint_id} for app {endpoint.app}: {endpoint.url} ({', '.join(events)})\n"
            f"signing secret (shown once, keep it in the app's secret store):\n{secret}")  # fmt: skip
    _emit(args, {**asdict(endpoint), "secret": secret}, text)
    return 0


def _list(args: argparse.Namespace, stack: Stack) -> int:
    found = webhooks.endpoints(stack)
    lines = [f"{len(found)} endpoint(s)"]
    for e in found:
        state = "enabled" if e.enabled else f"DISABLED ({e.disabled_reason}, {e.disabled_at})"
        failing = (
            f"  failing since {datetime.fromtimestamp(e.failing_since, tz=UTC)}" if e.failing_since else ""
        )
        lines.append(f"- {e.endpoint_id}  app {e.app}  {state}  {e.url}  [{', '.join(e.events)}]{failing}")
    _emit(args, {"endpoints": [asdict(e) for e in found]}, "\n".join(lines))
    return 0


def _enable(args: argparse.Namespace, stack: Stack) -> int:
    changed = webhooks.set_enabled(stack, args.endpoint_id, args.command == "enable")
    print(
        f"{args.endpoint_id}: {args.command}d" if changed else f"{args.endpoint_id}: already {args.command}d"
    )
    return 0


def _rotate(args: argparse.Namespace, stack: Stack) -> int:
    secret, until = webhooks.rotate(stack, args.endpoint_id, overlap_hours=args.overlap_hours)
    overlap = f"the old secret signs too until {until}" if until else "the old secret no longer signs"
    _emit(args, {"endpoint_id": args.endpoint_id, "secret": secret, "previous_until": until},
          f"new signing secret (shown once):\n{secret}\n{overlap}")  # fmt: skip
    return 0


def _remove(args: argparse.Namespace, stack: Stack) -> int:
    webhooks.remove(stack, args.endpoint_id)
    print(f"{args.endpoint_id}: removed (its secret is deleted after a 7-day recovery window)")
    return 0


def _deliveries(args: argparse.Namespace, stack: Stack) -> int:
    found = webhooks.deliveries(stack, event_id=args.event_id, endpoint_id=args.endpoint)
    lines = [f"{len(found)} deliver{'y' if len(found) == 1 else 'ies'}"]
    for d in found:
        answer = d.last_status_code or d.last_error or "-"
        following = f"  next {d.next_attempt_at}" if d.next_attempt_at else ""
        lines.append(f"- {d.event_id} -> {d.endpoint_id}  {d.status}  round {d.round}  "
                     f"attempts {d.attempts}  last {answer}  at {d.updated_at}{following}")  # fmt: skip
    _emit(args, {"deliveries": [asdict(d) for d in found]}, "\n".join(lines))
    return 0


def _replay(args: argparse.Namespace, stack: Stack) -> int:
    if bool(args.event_id) == bool(args.since):
        print("error: give an event id, or --since (and --until)", file=sys.stderr)
        return 2
    if args.event_id:
        sent = {args.event_id: webhooks.replay(stack, args.event_id, endpoint_id=args.endpoint)}
    else:
        until = _when(args.until) if args.until else datetime.now(UTC)
        sent = webhooks.replay_range(stack, _when(args.since), until, endpoint_id=args.endpoint)
    lines = [f"{len(sent)} event(s) replayed"]
    lines += [
        f"- {event_id} -> {', '.join(targets) or 'no enabled endpoint'}" for event_id, targets in sent.items()
    ]
    _emit(args, {"replayed": sent}, "\n".join(lines))
    return 0


COMMANDS = {
    ("webhooks", "add"): _add,
    ("webhooks", "list"): _list,
    ("webhooks", "disable"): _enable,
    ("webhooks", "enable"): _enable,
    ("webhooks", "rotate"): _rotate,
    ("webhooks", "remove"): _remove,
    ("webhooks", "deliveries"): _deliveries,
    ("webhooks", "replay"): _replay,
}
