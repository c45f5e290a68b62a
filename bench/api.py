"""What an API request costs: create, get and list in-process, and the AWS calls behind each one.

    .venv/bin/python bench/api.py                          # 20 vs 500 jobs of history
    .venv/bin/python bench/api.py --long 5000 --rounds 50 --create-rounds 20  # bench-long

The API function's handler (functions/api/app.py, loaded as the local runtime loads it) is called
in this process with API Gateway HTTP API events (the samples in events/), against moto in-process
with the template's own resources. Every request carries a JWT signed by the local issuer and
checked by the local gateway's verifier, as API Gateway's JWT authorizer would; that check runs
before the function and is timed on its own row. A create only stores the job and enqueues it:
it builds no Leonardo client (that would read the API key: Secrets Manager calls stay at zero), so
no simulator is needed.

Two users: one with a short history (`--short` jobs) and one with a long one (`--long`). Their
newest jobs have the same shapes (COMPLETE with 1, 2 or 4 output images, QUEUED, SUBMITTED,
FINALIZING, FAILED, repeating), so a first page looks the same for both and anything that differs
between them is what history costs. Every call a boto3 client makes is counted with botocore's
event hooks (before-call / after-call, and before-sign for presigned URLs, which never leave the
process), per request and per route:

- **calls per request** (DynamoDB, S3, SQS, Secrets Manager): a get or a list must not read more
  for a longer history (no N+1 reads), and must presign only the images it shows;
- **p50 / p99 latency** per route, and the part spent outside AWS calls (the handler's own work:
  routing, validation, views, presigning), which is what this code controls;
- **naive baselines** from the same client in the same run: one bare GetItem of the same job (the
  floor of a get), one bare Query of the same page (the floor of a list), one bare transaction of
  the job and its dedupe entry plus one SendMessage (the floor of a create), and presigning the
  list page's images alone.

Reads run first (`--rounds` each), then creates (`--create-rounds`): a create adds to its user's
history, and moto's costs grow with the table (it copies the whole table for each transaction).
Every baseline runs shuffled in with the requests of its route, on the same table.

The account block (the `hold` QUEUED jobs show) is cached for ACCOUNT_CACHE_SECONDS (5 s) in a
warm function; the bench sets it to 0, so every request pays what the first request after an
idle spell pays. Moto's index queries scan the table, so the list's latency against moto says
little about DynamoDB's (which reads one page); the calls per request are the figure that carries
over. Raw figures go to bench/results/api.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import ROOT, Report, percentile, ratio, setup_paths

setup_paths()

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
warnings.filterwarnings("ignore", message="No application metrics to publish")  # a read adds none


from bench.inprocess import CallCounter, Tally, deploy, local_aws  # noqa: E402
from stackrunner.gateway import JwtVerifier  # noqa: E402
from stackrunner.issuer import LocalIssuer  # noqa: E402
from stackrunner.plans import unlimited_plans_json  # noqa: E402
from stackrunner.template import Template  # noqa: E402

EVENTS = ROOT / "events"
ISSUER = "https://issuer.bench.local/"
FUNCTION = "ApiFunction"
# The shapes of a user's jobs, newest first, repeating: (status, output images).
PATTERN = (
    ("COMPLETE", 4), ("COMPLETE", 1), ("QUEUED", 0), ("COMPLETE", 2), ("FAILED", 0),
    ("SUBMITTED", 0), ("COMPLETE", 4), ("COMPLETE", 1), ("FINALIZING", 0), ("COMPLETE", 2),
)  # fmt: skip


# ----- the stack: resources, environment, history --------------------------------------------------


@dataclass
class Stack:
    handler: Callable[[dict, Any], dict]
    context: Callable[[], Any]
    verifier: JwtVerifier
    tokens: dict[str, str]


def build_stack(jwt_dir: Path) -> Stack:
    template = Template(
        ROOT / "template.yaml",
        # The plans of test stacks (no cap, no budget): every create is an accept, not a refusal
        # (the shipped default, free, stops a user's 11th waiting job with 429 too_many_waiting).
        parameters={"JwtIssuer": ISSUER, "PlansDocument": unlimited_plans_json()},
        stack_name=f"bench{uuid.uuid4().hex[:6]}",
    )
    runtime = deploy(
        template,
        function=FUNCTION,
        secrets={"LeonardoApiKeySecret": {"api_key": "bench-key"}, "WebhookSecret": "bench-webhook"},
        # every request reads what an idle function's first one reads
        environment={"ACCOUNT_CACHE_SECONDS": "0"},
    )
    (authorizer,) = template.jwt_authorizers().values()
    issuer = LocalIssuer(ISSUER, authorizer.audience, jwt_dir)
    return Stack(
        handler=runtime.handler(FUNCTION),
        context=lambda: runtime.context(FUNCTION),
        verifier=JwtVerifier(authorizer, issuer),
        tokens={user: issuer.token(user) for user in ("short", "long")},
    )


def seed_history(user: str, count: int, now: datetime) -> dict[str, str]:
    """`count` jobs for `user`, newest first in PATTERN's shapes; returns a job id per shape."""
    from gencore import wiring
    from gencore.domain.models import Cost, Job, JobStatus, OutputImage

    store, examples, items = wiring.store(), {}, []
    for i in range(count):
        status, images = PATTERN[i % len(PATTERN)]
        created = now - timedelta(minutes=i + 1)
        job_id = str(uuid.uuid4())
        request = {"prompt": f"history {i}", "width": 512, "height": 512, "num_images": max(images, 1)}
        job = Job(
            id=job_id,
            user_id=user,
            status=JobStatus(status),
            request=request,
            created_at=created,
            updated_at=created + timedelta(seconds=20),
            leonardo_seed=i,
            generation_id=None if status == "QUEUED" else str(uuid.uuid4()),
            due_at=None if JobStatus(status).terminal else int(created.timestamp()) + 120,
            cost=None if status in ("QUEUED", "FAILED") else Cost(amount="8", unit="CREDITS"),
            error_code="content_moderated" if status == "FAILED" else None,
            error_message="Leonardo refused the prompt" if status == "FAILED" else None,
            images=[
                OutputImage(
                    index=n,
                    key=f"outputs/{job_id}/{n}.png",
                    content_type="image/png",
                    size=400_000,
                    width=512,
                    height=512,
                    leonardo_image_id=str(uuid.uuid4()),
                )
                for n in range(images)
            ],
        )
        items.append(store._to_item(job))  # the store's own encoding of a job
        examples.setdefault(f"{status}/{images}", job_id)
    # Written in batches, not through the store's create: moto copies the whole table for every
    # transaction, which would make seeding a long history quadratic.
    ddb, table = wiring.aws("dynamodb"), wiring.settings().jobs_table
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        ddb.batch_write_item(RequestItems={table: batch})
    return examples


# ----- requests ---------------------------------------------------------------------------------


def _event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@dataclass(frozen=True)
class Case:
    """A request to the handler (`event`), or a bare AWS call from its clients (`bare`, a baseline)."""

    route: str  # create | get | get QUEUED | list, or the baseline's name
    history: str  # short | long: the user, by the length of their history
    event: Callable[[int], dict] | None = None  # round -> event (the authorizer is added per request)
    bare: Callable[[], None] | None = None
    images_shown: int = 0


def requests(job_ids: dict[str, dict[str, str]], page: int) -> list[Case]:
    create, get, listing = (
        _event(f"api-{n}.json") for n in ("create-generation", "get-generation", "list-generations")
    )

    def create_event(user: str) -> Callable[[int], dict]:
        def make(n: int) -> dict:
            event = json.loads(json.dumps(create))
            event["headers"].pop("idempotency-key", None)  # a new job each round, not a repeat
            body = json.loads(event["body"]) | {"prompt": f"bench {user} {n}", "seed": n}
            event["body"] = json.dumps(body)
            return event

        return make

    def get_event(job_id: str) -> Callable[[int], dict]:
        event = json.loads(json.dumps(get))
        event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/generations/{job_id}"
        event["pathParameters"] = {"job_id": job_id}
        return lambda _n: json.loads(json.dumps(event))

    def list_event() -> Callable[[int], dict]:
        event = json.loads(json.dumps(listing))
        event["rawQueryString"] = f"limit={page}"
        event["queryStringParameters"] = {"limit": str(page)}
        return lambda _n: json.loads(json.dumps(event))

    shown = sum(PATTERN[i % len(PATTERN)][1] for i in range(page))  # only COMPLETE jobs have images
    found = []
    for history, ids in job_ids.items():
        found += [
            Case("create", history, create_event(history)),
            Case("get", history, get_event(ids["COMPLETE/4"]), images_shown=4),
            Case("get QUEUED", history, get_event(ids["QUEUED/0"])),
            Case("list", history, list_event(), images_shown=shown),
        ]
    return found


def baselines(job_id: str, page: int, images: int) -> list[Case]:
    """The same AWS work as a request, bare, from the handler's own clients (the long history's user)."""
    from gencore import wiring

    ddb, sqs, s = wiring.aws("dynamodb"), wiring.aws("sqs"), wiring.settings()
    table = s.jobs_table

    def get_item() -> None:
        key = {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}
        ddb.get_item(TableName=table, Key=key, ConsistentRead=True)

    def query() -> None:
        ddb.query(
            TableName=table,
            IndexName="UserJobs",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": "USER#long"}},
            ScanIndexForward=False,
            Limit=page,
        )

    def create() -> None:
        job = str(uuid.uuid4())
        items = [
            {
                "Put": {
                    "TableName": table,
                    "Item": {"pk": {"S": f"DEDUPE#bare{job}"}, "sk": {"S": "DEDUPE"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": {"pk": {"S": f"JOB#{job}"}, "sk": {"S": "JOB"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        ddb.transact_write_items(TransactItems=items)
        sqs.send_message(QueueUrl=s.submit_queue_url, MessageBody=json.dumps({"job_id": job}))

    keys = [f"outputs/{uuid.uuid4()}/{n % 4}.png" for n in range(images)]

    def presign() -> None:
        presign = wiring.outputs().presign
        for key in keys:
            presign(key)

    return [
        Case("bare GetItem", "long", bare=get_item),
        Case("bare Query", "long", bare=query),
        Case("bare transaction + send", "long", bare=create),
        Case("presign a page", "long", bare=presign),
    ]


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    own_seconds: list[float] = field(default_factory=list)  # outside AWS calls
    tallies: list[Tally] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)

    def calls(self, service: str | None = None) -> float:
        counts = [t.of(service) if service else sum(t.calls.values()) for t in self.tallies]
        return sum(counts) / len(counts) if counts else 0.0

    def most(self, service: str) -> int:
        return max((t.of(service) for t in self.tallies), default=0)

    def presigns(self) -> float:
        return sum(t.presigns for t in self.tallies) / len(self.tallies) if self.tallies else 0.0

    def by_operation(self) -> dict[str, float]:
        total: Counter = Counter()
        for t in self.tallies:
            total.update(t.calls)
        return {op: n / len(self.tallies) for op, n in sorted(total.items())}


def run_case(stack: Stack, counter: CallCounter, case: Case, n: int, out: Samples, verify: list) -> None:
    """A request as the gateway makes it (the JWT checked, its claims in the event, the handler
    called), or a baseline's bare call; timed, with the AWS calls it made."""
    call: Callable[[], Any]
    if case.bare is not None:
        call = case.bare
    else:
        assert case.event is not None
        event = case.event(n)
        started = time.perf_counter()
        token = stack.tokens[case.history]  # the user with that history
        claims, scopes = stack.verifier.verify({"authorization": f"Bearer {token}"}, ())
        verify.append(time.perf_counter() - started)
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": scopes}}
        context = stack.context()
        call = lambda: stack.handler(event, context)  # noqa: E731
    with counter.measure() as tally:
        started = time.perf_counter()
        response = call()
        elapsed = time.perf_counter() - started
    out.seconds.append(elapsed)
    out.own_seconds.append(elapsed - tally.aws_seconds)
    out.tallies.append(tally)
    if isinstance(response, dict) and "statusCode" in response:
        out.statuses[response["statusCode"]] += 1


# ----- the run ----------------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> tuple[dict[str, Samples], list[float], dict[str, int]]:
    """Samples by "route|history"; JWT verify times; images shown per route."""
    rng = random.Random(args.seed)
    counter = CallCounter()
    counter.install()
    saved_env = dict(os.environ)
    try:
        with (
            local_aws(),
            tempfile.TemporaryDirectory(prefix="api-bench-jwt-") as jwt_dir,
            open(os.devnull, "w") as devnull,
            redirect_stdout(devnull),  # the function's EMF metrics and logs, as on Lambda
        ):
            stack = build_stack(Path(jwt_dir))
            from gencore import wiring

            wiring.reset()
            now = datetime.now(UTC)
            histories = {"short": args.short, "long": args.long}
            job_ids = {h: seed_history(h, count, now) for h, count in histories.items()}
            plan = requests(job_ids, args.page)
            shown = {c.route: c.images_shown for c in plan}
            floors = baselines(job_ids["long"]["COMPLETE/4"], args.page, shown["list"])
            bare = {c.route: c for c in floors}
            samples = {f"{c.route}|{c.history}": Samples() for c in plan + list(bare.values())}
            verify: list[float] = []
            # Reads first, then creates: a create adds to its user's history, and the pages read
            # must keep their seeded shapes. Each baseline runs shuffled in with its route.
            reads = [c for c in plan if c.route != "create"]
            reads += [bare["bare GetItem"], bare["bare Query"], bare["presign a page"]]
            creates = [c for c in plan if c.route == "create"] + [bare["bare transaction + send"]]
            for phase, rounds in ((reads, args.rounds), (creates, args.create_rounds)):
                for n in range(args.warmup + rounds):
                    rng.shuffle(phase)  # no case always runs right after another
                    for case in phase:
                        measured = n >= args.warmup
                        out = samples[f"{case.route}|{case.history}"] if measured else Samples()
                        run_case(stack, counter, case, n, out, verify if measured else [])
            wiring.reset()
    finally:
        counter.uninstall()
        os.environ.clear()
        os.environ.update(saved_env)
    return samples, verify, shown


def _ms(values: list[float], q: float) -> float | None:
    value = percentile(values, q)
    return None if value is None else value * 1000


def report(args: argparse.Namespace) -> Report:
    samples, verify, shown = measure(args)
    result = Report("api", parameters=vars(args))
    lengths = {"short": args.short, "long": args.long}
    for route in ("create", "get", "get QUEUED", "list"):
        for history in ("short", "long"):
            s, label = samples[f"{route}|{history}"], f"{route}, {lengths[history]} jobs"
            result.add(
                f"{label}: p50 / p99",
                _pair(s.seconds),
                "ms",
                note=f"own work p50 {_ms(s.own_seconds, 50):.2f} ms; answers {dict(s.statuses)}",
            )
            ops = ", ".join(f"{op} {n:.3g}" for op, n in s.by_operation().items())
            result.add(
                f"{label}: AWS calls / request",
                round(s.calls(), 2),
                "calls",
                note=ops + (f"; presigned URLs {s.presigns():.3g}" if s.presigns() else ""),
            )

    def long(route: str) -> Samples:
        return samples[f"{route}|long"]

    def short(route: str) -> Samples:
        return samples[f"{route}|short"]

    result.add(
        "get: DynamoDB calls, most in one request",
        long("get").most("dynamodb"),
        "calls",
        "<= 1",
        note="a COMPLETE job: its own GetItem, nothing else",
    )
    result.add(
        "get QUEUED: DynamoDB calls, most in one request",
        long("get QUEUED").most("dynamodb"),
        "calls",
        "<= 2",
        note="the job, and the account block it shows as `hold`",
    )
    result.add(
        "list: DynamoDB calls, most in one request",
        long("list").most("dynamodb"),
        "calls",
        "<= 2",
        note="one Query, and the account block when a QUEUED job is on the page",
    )
    for route in ("get", "list"):
        result.add(
            f"{route}: DynamoDB calls, long / short history",
            ratio(long(route).calls("dynamodb"), short(route).calls("dynamodb")),
            "ratio",
            "<= 1.0",
            note=f"{args.long} vs {args.short} jobs",
        )
        result.add(
            f"{route}: presigned URLs per image shown",
            ratio(long(route).presigns(), shown[route]),
            "ratio",
            "<= 1.0",
            note=f"{shown[route]} images shown",
        )
        result.add(
            f"{route}: own work p50, long / short history",
            ratio(_ms(long(route).own_seconds, 50), _ms(short(route).own_seconds, 50)),
            "ratio",
            note="time outside AWS calls; the pages have the same shapes",
        )
    for name, route in (
        ("bare GetItem", "get"),
        ("bare Query", "list"),
        ("bare transaction + send", "create"),
    ):
        floor = samples[f"{name}|long"]
        result.add(
            f"{route} p50 / {name} p50 (the floor)",
            ratio(_ms(long(route).seconds, 50), _ms(floor.seconds, 50)),
            "ratio",
            note=f"{name} p50 / p99 {_pair(floor.seconds)} ms (moto in-process)",
        )
    signing = _ms(samples["presign a page|long"].seconds, 50) or 0.0
    result.add(
        f"presigning a list page's {shown['list']} URLs p50",
        signing,
        "ms",
        note=f"botocore, no network: {signing / max(shown['list'], 1) * 1000:.0f} us a URL, "
        f"{signing / (_ms(long('list').own_seconds, 50) or 1):.0%} of the list's own work",
    )
    result.add(
        "gateway: JWT verify p50",
        _ms(verify, 50),
        "ms",
        note="RS256, local issuer's key; before the function, as API Gateway's authorizer",
    )
    result.raw = {
        key: {
            "ms": [round(v * 1000, 3) for v in s.seconds],
            "own_ms_p50": _ms(s.own_seconds, 50),
            "calls_per_request": s.by_operation(),
            "presigns_per_request": s.presigns(),
            "answers": dict(s.statuses),
        }
        for key, s in samples.items()
    }
    return result


def _pair(seconds: list[float]) -> str:
    return f"{_ms(seconds, 50):.2f} / {_ms(seconds, 99):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--short", type=int, default=20, help="jobs in the short history (default 20)")
    parser.add_argument("--long", type=int, default=500, help="jobs in the long history (default 500)")
    parser.add_argument("--page", type=int, default=20, help="list page size (default 20, the API's default)")
    parser.add_argument(
        "--rounds", type=int, default=200, help="requests per route and history (default 200)"
    )
    parser.add_argument(
        "--create-rounds",
        type=int,
        default=50,
        help="creates per history (default 50: each adds a job, and moto slows as the table grows)",
    )
    parser.add_argument(
        "--warmup", type=int, default=5, help="rounds not measured (cold start, first clients)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--results", default=None, help="directory for the JSON (default bench/results)")
    args = parser.parse_args()
    if args.short < len(PATTERN) or args.page > args.short:
        parser.error(f"--short must be at least {len(PATTERN)} and --page at most --short")
    report(args).finish(args.results)


if __name__ == "__main__":
    main()
