"""The realtime canvas's added latency: POST /v1/realtime/generate through the API handler against the
same call made straight to Leonardo (the simulator) with our client (in-process moto).

    .venv/bin/python bench/realtime.py                 # 300 calls each, alternating
    .venv/bin/python bench/realtime.py --rounds 20     # the smoke form

The canvas answers while the user draws, so what we add over Leonardo's own answer time is the figure
that matters: the handler's rate bucket, content check, the reservation and settlement in the
ledger (DynamoDB), and the parse and shaping of the picture. Each round times one call through the
handler and one bare `LeonardoClient.realtime` call of the same body, in a seeded order; the
simulator answers at once (`lcm_answer_seconds` 0), so both measure their own work plus the same
render. The added time is then split: the AWS calls the handler makes (counted by operation and
timed with botocore's hooks; DynamoDB through moto in this process, whose cost is CPU and grows on
a slower machine, where on AWS it is a network round trip) and the handler's own work outside them.

Target (issue 15): added latency <= 50 ms at p95 (in-process). Timings are never gated.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import ROOT, Report, percentile, quiet_handlers, ratio, setup_paths

setup_paths()
quiet_handlers()

from PIL import Image  # noqa: E402

from bench.inprocess import CallCounter, deploy, local_aws  # noqa: E402
from leonardo_simulator import SimulatorConfig, serve_in_thread  # noqa: E402
from stackrunner.plans import unlimited_plans_json  # noqa: E402
from stackrunner.template import Template  # noqa: E402

FUNCTION = "ApiFunction"
API_KEY = "bench-key"
EVENT = ROOT / "events" / "api-realtime-generate.json"


def sketch(rng: random.Random) -> str:
    data = io.BytesIO()
    Image.new("RGB", (96, 96), tuple(rng.randrange(256) for _ in range(3))).save(data, format="JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(data.getvalue()).decode()


def report(args: argparse.Namespace) -> Report:
    from gencore.leonardo import LeonardoClient

    result = Report("realtime", parameters=vars(args) | {"results": None})
    rng = random.Random(args.seed)
    config = SimulatorConfig(api_key=API_KEY, webhook_url=None, lcm_answer_seconds=0.0, port=0)
    with serve_in_thread(config) as simulator, local_aws():
        template = Template(
            ROOT / "template.yaml",
            parameters={
                "PlansDocument": unlimited_plans_json(),
                "LeonardoBaseUrl": simulator.base_url,
                "LogLevel": "WARNING",
            },
            stack_name=f"bench{uuid.uuid4().hex[:6]}",
        )
        runtime = deploy(
            template, function=FUNCTION,
            secrets={"LeonardoApiKeySecret": {"api_key": API_KEY}, "WebhookSecret": "bench-webhook"},
            # the bench measures latency, not the bucket: it is opened wide
            environment={"REALTIME_RATE_PER_SECOND": "100", "REALTIME_RATE_BURST": "1000"},
        )  # fmt: skip
        counter = CallCounter()  # every boto3 client built from here on: the handler's are built lazily
        counter.install()
        handler = runtime.handler(FUNCTION)
        direct = LeonardoClient(base_url=simulator.base_url, api_key=API_KEY)
        through: list[float] = []
        outside: list[float] = []  # the handler's time outside AWS calls
        in_aws: list[float] = []
        calls: Counter[str] = Counter()
        bare: list[float] = []
        statuses: dict[int, int] = {}
        for n in range(args.warmup + args.rounds):
            picture = sketch(rng)
            order = ["handler", "bare"]
            rng.shuffle(order)
            for what in order:
                if what == "handler":
                    event = json.loads(EVENT.read_text())
                    event["body"] = json.dumps({"image": picture, "prompt": "a red fox", "width": 512})
                    with counter.measure() as tally:
                        started = time.perf_counter()
                        answer = handler(event, runtime.context(FUNCTION))
                        elapsed = time.perf_counter() - started
                    statuses[answer["statusCode"]] = statuses.get(answer["statusCode"], 0) + 1
                    if n >= args.warmup:
                        through.append(elapsed)
                        outside.append(elapsed - tally.aws_seconds)
                        in_aws.append(tally.aws_seconds)
                        calls.update(tally.calls)
                else:
                    body = {"imageDataUrl": picture, "prompt": "a red fox", "width": 512}
                    started = time.perf_counter()
                    direct.realtime("/generations-lcm", body)
                    (bare if n >= args.warmup else []).append(time.perf_counter() - started)
        direct.close()
        counter.uninstall()

    def ms(values: list[float], q: float) -> float:
        return round(percentile(values, q) * 1000, 3)

    result.add("calls answered 200", f"{statuses.get(200, 0)}/{args.warmup + args.rounds}")
    added = round(ms(through, 95) - ms(bare, 95), 3)
    note = f"handler {ms(through, 95)} ms, the same call straight to Leonardo {ms(bare, 95)} ms"
    result.add("added latency p95 (handler p95 - direct p95)", added, "ms", "<= 50", note=note)
    result.add("added latency p50", round(ms(through, 50) - ms(bare, 50), 3), "ms")
    result.add("handler p95 / direct p95", ratio(ms(through, 95), ms(bare, 95)), "ratio")
    # Where the added time goes: the AWS calls (DynamoDB through moto in this process, CPU-bound here,
    # a network round trip on AWS) and the handler's own work outside them.
    rounds = max(len(through), 1)
    per_call = ", ".join(f"{op} {n / rounds:g}" for op, n in sorted(calls.items()))
    result.add("AWS calls per call", round(sum(calls.values()) / rounds, 2), "calls", note=per_call)
    result.add("  time in AWS calls p50 / p95", f"{ms(in_aws, 50):.1f} / {ms(in_aws, 95):.1f}", "ms",
               note="in-process moto")  # fmt: skip
    own = round(ms(outside, 95) - ms(bare, 95), 3)
    note = "the handler's own work: checks, ledger logic, the picture's parse and shaping"
    result.add("  added latency outside AWS calls p95", own, "ms", note=note)
    result.raw = {"handler_ms": [round(v * 1000, 3) for v in through],
                  "handler_outside_aws_ms": [round(v * 1000, 3) for v in outside],
                  "direct_ms": [round(v * 1000, 3) for v in bare], "statuses": statuses,
                  "aws_calls": dict(calls)}  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=300, help="calls measured each way (default 300)")
    parser.add_argument("--warmup", type=int, default=10, help="rounds not measured (default 10)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--results", default=None, help="directory for the JSON (default bench/results)")
    args = parser.parse_args()
    report(args).finish(args.results)


if __name__ == "__main__":
    main()
