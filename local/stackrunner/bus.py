"""The local bus, made visible: what the stack's EventBridge buses carried, the last N events.

For each AWS::Events::EventBus of the template the stack adds (locally only) a rule matching every
event of the account, targeting an SQS queue it creates; a thread drains that queue into memory.
The gateway shows them at `GET /_local/events?limit=N` (no authorizer: loopback only), and
`python -m stackrunner events [N]` prints them from a running stack (docs/local-stack.md).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from stackrunner.template import ACCOUNT_ID

log = logging.getLogger("stackrunner.bus")

KEEP = 500  # events kept per stack; older ones are forgotten
EVENTS_ROUTE = "/_local/events"


def tap_bus(events: Any, sqs: Any, bus_name: str, name: str) -> str:
    """A rule on `bus_name` sending every event to a new queue `name`; the queue's URL."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = name[:64]
    pattern = {"account": [ACCOUNT_ID]}  # every event on the bus (the usual "match all" pattern)
    events.put_rule(Name=rule, EventBusName=bus_name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule, EventBusName=bus_name, Targets=[{"Id": "local-tap", "Arn": arn}])
    return url


class BusTap:
    """Drains the taps' queues into the last KEEP events, oldest first (each with its bus)."""

    def __init__(self, sqs_factory: Callable[[], Any], queues: dict[str, str], keep: int = KEEP) -> None:
        self._sqs_factory, self._queues = sqs_factory, queues  # bus name -> tap queue URL
        self._events: collections.deque[dict] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bus-tap", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 5) -> None:
        self._thread.join(timeout=timeout)

    def events(self, limit: int | None = None, detail_type: str | None = None) -> list[dict]:
        """The last `limit` events (all kept if None), oldest first; of one detail-type if given."""
        with self._lock:
            found = [e for e in self._events if detail_type is None or e.get("detail-type") == detail_type]
        return found[-limit:] if limit else found

    def drain(self) -> int:
        """Receive what the taps hold now (the thread does this continuously)."""
        sqs, taken = self._sqs_factory(), 0
        for bus, url in self._queues.items():
            while True:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
                messages = messages.get("Messages", [])
                if not messages:
                    break
                with self._lock:
                    for message in messages:
                        self._events.append(json.loads(message["Body"]) | {"bus": bus})
                entries = [
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
                ]
                sqs.delete_message_batch(QueueUrl=url, Entries=entries)
                taken += len(messages)
        return taken

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.drain():
                    self._stop.wait(0.2)
            except Exception:
                if not self._stop.is_set():
                    log.exception("reading the bus tap failed; retrying")
                    self._stop.wait(1)


def events_route(tap: BusTap) -> Any:
    """`GET /_local/events?limit=N&detail_type=...` on the local gateway."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def show(request: Request) -> JSONResponse:
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            return JSONResponse({"error": {"code": "invalid_limit", "message": "limit is a number"}}, 400)
        events = tap.events(max(1, min(limit, KEEP)), request.query_params.get("detail_type"))
        return JSONResponse({"events": events})

    return Route(EVENTS_ROUTE, show, methods=["GET"])


def main(argv: list[str] | None = None) -> int:
    """`python -m stackrunner events [N] [--type "Generation Completed"] [--api URL]`."""
    parser = argparse.ArgumentParser(prog="python -m stackrunner events", description=main.__doc__)
    parser.add_argument("limit", nargs="?", type=int, default=20, help="how many of the last events")
    parser.add_argument("--type", dest="detail_type", help='only this detail-type, e.g. "Generation Failed"')
    parser.add_argument("--api", default=f"http://127.0.0.1:{os.environ.get('PORT', '3000')}")
    args = parser.parse_args(argv)
    import httpx

    query: dict[str, Any] = {"limit": args.limit} | (
        {"detail_type": args.detail_type} if args.detail_type else {}
    )
    try:
        answer = httpx.get(args.api.rstrip("/") + EVENTS_ROUTE, params=query, timeout=5)
    except httpx.HTTPError as error:
        print(f"no local stack at {args.api} ({error}); start it with `make run`", file=sys.stderr)
        return 1
    answer.raise_for_status()
    for event in answer.json()["events"]:
        print(json.dumps(event, separators=(",", ":")))
    return 0
