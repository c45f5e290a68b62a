"""The webhook's acknowledgement against a bare SQS send to the same queue (in-process moto).

    .venv/bin/python bench/webhook.py                 # 2,000 callbacks, alternating with bare sends
    .venv/bin/python bench/webhook.py --rounds 200    # the smoke form

Leonardo waits for our answer to each callback, and it documents no retry schedule: the webhook
must acknowledge fast and never be the reason a callback is lost. Its work on the request path is
the bearer check (constant time, the key cached), the parse of the body into its secret-free facts,
and one SQS send; everything else happens in the processor. So the floor is the SQS send itself,
done here with the function's own client: each round times one callback through the handler
(the webhook function loaded as the local runtime loads it, with the template's environment) and
one bare `send_message` of the same message, alternating, in a seeded order.

Target (issue 10): ack p99 <= 1.3x the bare send's p99. Timings are never gated: a missed ratio is
a finding, not a failed build.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import ROOT, Report, percentile, quiet_handlers, ratio, setup_paths

setup_paths()
quiet_handlers()

from bench.inprocess import deploy, local_aws  # noqa: E402
from stackrunner.template import Template  # noqa: E402

FUNCTION = "WebhookFunction"
WEBHOOK_KEY = "bench-webhook-key"
EVENT = ROOT / "events" / "webhook-callback.json"


def build() -> tuple[Any, Any, str]:
    """The webhook handler, a context factory, and the events queue's URL."""
    template = Template(ROOT / "template.yaml", stack_name=f"bench{uuid.uuid4().hex[:6]}")
    runtime = deploy(
        template,
        function=FUNCTION,
        secrets={"LeonardoApiKeySecret": {"api_key": "bench-key"}, "WebhookSecret": WEBHOOK_KEY},
    )
    return runtime.handler(FUNCTION), lambda: runtime.context(FUNCTION), os.environ["EVENTS_QUEUE_URL"]


def callback_event(n: int) -> dict:
    event = json.loads(EVENT.read_text())
    event["headers"] = {"content-type": "application/json", "authorization": f"Bearer {WEBHOOK_KEY}"}
    body = json.loads(event["body"])
    body["data"]["object"] |= {"id": str(uuid.UUID(int=n + 1)), "status": "COMPLETE"}
    event["body"] = json.dumps(body)
    return event


def report(args: argparse.Namespace) -> Report:
    result = Report("webhook", parameters=vars(args) | {"results": None})
    rng = random.Random(args.seed)
    with local_aws():
        handler, context, queue_url = build()
        from gencore.clients import aws

        sqs = aws("sqs")
        message = json.dumps({"source": "webhook", "event_type": "image_generation.complete",
                              "generation_id": str(uuid.uuid4()), "status": "COMPLETE", "images": [],
                              "api_credit_cost": None}, separators=(",", ":"))  # fmt: skip
        ack: list[float] = []
        bare: list[float] = []
        statuses: dict[int, int] = {}
        for n in range(args.warmup + args.rounds):
            order = ["ack", "bare"]
            rng.shuffle(order)
            for what in order:
                if what == "ack":
                    event = callback_event(n)
                    started = time.perf_counter()
                    answer = handler(event, context())
                    elapsed = time.perf_counter() - started
                    statuses[answer["statusCode"]] = statuses.get(answer["statusCode"], 0) + 1
                    (ack if n >= args.warmup else []).append(elapsed)
                else:
                    started = time.perf_counter()
                    sqs.send_message(QueueUrl=queue_url, MessageBody=message)
                    (bare if n >= args.warmup else []).append(time.perf_counter() - started)

    def ms(values: list[float], q: float) -> float:
        return round(percentile(values, q) * 1000, 3)

    accepted = statuses.get(202, 0)
    result.add("callbacks acknowledged 202", f"{accepted}/{args.warmup + args.rounds}")
    result.add("ack p50 / bare send p50", ratio(ms(ack, 50), ms(bare, 50)), "ratio",
               note=f"ack {ms(ack, 50)} ms, bare send {ms(bare, 50)} ms")  # fmt: skip
    result.add("ack p99 / bare send p99", ratio(ms(ack, 99), ms(bare, 99)), "ratio", "<= 1.3",
               note=f"ack {ms(ack, 99)} ms, bare send {ms(bare, 99)} ms (in-process moto)")  # fmt: skip
    result.add("ack p95", ms(ack, 95), "ms")
    result.add("ack own work p50 (ack - bare send)", round(ms(ack, 50) - ms(bare, 50), 3), "ms",
               note="the bearer check, the parse and the handler's wrapping")  # fmt: skip
    result.raw = {"ack_ms": [round(v * 1000, 3) for v in ack], "bare_ms": [round(v * 1000, 3) for v in bare],
                  "statuses": statuses}  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2000, help="callbacks measured (default 2000)")
    parser.add_argument("--warmup", type=int, default=20, help="rounds not measured (default 20)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--results", default=None, help="directory for the JSON (default bench/results)")
    args = parser.parse_args()
    report(args).finish(args.results)


if __name__ == "__main__":
    main()
