"""Pipeline tests: the real handlers and adapters against moto (server mode) and the Leonardo simulator.

Resources come from template.yaml through the local runner's creator: no second resource list.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from aws_lambda_powertools.utilities import parameters

from gencore import wiring
from leonardo_simulator import FaultConfig, SimulatorConfig, serve_in_thread
from stackrunner import free_port
from stackrunner.aws import LocalAws, ResourceCreator
from stackrunner.plans import unlimited_plans_json
from stackrunner.template import Template
from tests.simulator.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
LEONARDO_KEY = "test-leonardo-key-3f9a"
WEBHOOK_KEY = "test-webhook-key-77c1"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[LocalAws]:
    server = LocalAws(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def simulator() -> Iterator:
    config = SimulatorConfig(api_key=LEONARDO_KEY, webhook_url=None, pending_seconds=0.05, port=0)
    with serve_in_thread(config) as sim:
        yield sim


class FakeContext:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


@pytest.fixture
def stack(moto_server, simulator, monkeypatch, tmp_path) -> Iterator[SimpleNamespace]:
    """Fresh resources from the template for each test, and the handlers' environment pointing at them."""
    httpx.post(f"{moto_server.endpoint}/moto-api/reset")
    httpx.post(f"{simulator.origin}/_admin/reset").raise_for_status()
    simulator.set_faults(FaultConfig())
    template = Template(
        ROOT / "template.yaml",
        parameters={
            "LeonardoBaseUrl": simulator.base_url,
            "AllowedOutputOrigins": simulator.origin,
            "LeonardoUploadHosts": "127.0.0.1",
            "LeonardoMaxConcurrency": 2,
            "PlansDocument": unlimited_plans_json(),  # a guardrail test names its plan in the token
        },
        stack_name=f"t{uuid.uuid4().hex[:8]}",
    )
    ResourceCreator(
        template,
        moto_server,
        secret_values={"LeonardoApiKeySecret": {"api_key": LEONARDO_KEY}, "WebhookSecret": WEBHOOK_KEY},
    ).create_all()
    env = {}
    for spec in template.functions().values():
        env |= spec.environment
    env |= {
        "AWS_ENDPOINT_URL": moto_server.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Test",
        "POWERTOOLS_DEV": "false",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    parameters.clear_caches()
    yield SimpleNamespace(env=env, template=template, aws=moto_server, simulator=simulator)
    wiring.reset()
    parameters.clear_caches()


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


def load_event(name: str, **overrides) -> dict:
    event = json.loads((EVENTS / name).read_text())
    event.update(overrides)
    return event


def http_event(
    method: str, path: str, *, user: str | None = "alice", body=None, headers=None, query=None,
    plan: str | None = None,
) -> dict:  # fmt: skip
    """An API Gateway HTTP API (payload 2.0) event, based on the shared sample in events/."""
    event = load_event("api-create-generation.json")
    event["routeKey"] = f"{method} {path}"
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["headers"] = {"content-type": "application/json", **(headers or {})}
    event["queryStringParameters"] = query
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    event["isBase64Encoded"] = False
    if user is None:
        event["requestContext"].pop("authorizer", None)
    else:
        event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = user
        if plan is not None:
            event["requestContext"]["authorizer"]["jwt"]["claims"]["plan"] = plan
    return event


PARAMETERISED_ROUTES = (
    "/v1/generations/{job_id}",
    "/v1/generations/{job_id}/cancel",
    "/v1/generations/{job_id}/images/{index}/variations",
    "/v1/uploads/{upload_id}",
    "/v1/uploads/{upload_id}/complete",
    "/v1/uploads/{upload_id}/upscale",
    "/v1/batches/{batch_id}",
    "/v1/batches/{batch_id}/results",
    "/v1/batches/{batch_id}/cancel",
)


def _route_of(path: str) -> tuple[str, dict[str, str]]:
    """The template route a concrete path matches, and its path parameters (as API Gateway sets them)."""
    parts = path.split("/")
    for route in PARAMETERISED_ROUTES:
        pattern = route.split("/")
        if len(pattern) == len(parts) and all(
            p == x or (p.startswith("{") and x) for p, x in zip(pattern, parts, strict=True)
        ):
            return route, {p[1:-1]: x for p, x in zip(pattern, parts, strict=True) if p.startswith("{")}
    return path, {}


class Pipeline:
    """Drives the real handlers the way AWS would: HTTP events in, SQS batches between functions."""

    def __init__(self, stack: SimpleNamespace) -> None:
        from stackrunner.pollers import failed_ids, sqs_record
        from stackrunner.runtime import FunctionRuntime

        self._failed_ids, self._sqs_record = failed_ids, sqs_record
        self.stack = stack
        self.runtime = FunctionRuntime(stack.template.functions())
        self.sqs = stack.aws.client("sqs")
        self.ddb = stack.aws.client("dynamodb")
        self.s3 = stack.aws.client("s3")
        self.failed_handles: dict[str, list[str]] = {}
        self.last_headers: dict[str, str] = {}  # of the last API answer
        self.queues = {
            "SubmitQueue": stack.env["SUBMIT_QUEUE_URL"],
            "EventsQueue": stack.env["EVENTS_QUEUE_URL"],
            "BatchQueue": stack.env["BATCH_QUEUE_URL"],
        }

    def api(self, method: str, path: str, **kwargs) -> tuple[int, dict]:
        status, body = self.api_raw(method, path, **kwargs)
        return status, json.loads(body)

    def api_raw(self, method: str, path: str, **kwargs) -> tuple[int, str]:
        """The answer's status and body as text (a JSONL answer is not one JSON document)."""
        event = http_event(method, path, **kwargs)
        path_template, parameters = _route_of(path)
        if parameters:
            event["pathParameters"] = parameters
        event["routeKey"] = f"{method} {path_template}"
        response = self.runtime.invoke("ApiFunction", event)
        self.last_headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        return response["statusCode"], response["body"]

    def webhook(self, body: dict | bytes | str, *, token: str | None = WEBHOOK_KEY) -> tuple[int, dict]:
        event = load_event("webhook-callback.json")
        event["headers"] = {"content-type": "application/json"}
        if token is not None:
            event["headers"]["authorization"] = f"Bearer {token}"
        event["body"] = (
            body.decode() if isinstance(body, bytes) else body if isinstance(body, str) else json.dumps(body)
        )
        response = self.runtime.invoke("WebhookFunction", event)
        return response["statusCode"], json.loads(response["body"])

    def receive(self, queue: str, *, max_messages: int = 10) -> list[dict]:
        result = self.sqs.receive_message(
            QueueUrl=self.queues[queue], MaxNumberOfMessages=max_messages, WaitTimeSeconds=0,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        )  # fmt: skip
        return result.get("Messages", [])

    def drain(self, queue: str, function: str, *, rounds: int = 20) -> list:
        """Deliver every visible message of `queue` to `function` in batches, as the event source would."""
        responses = []
        for _ in range(rounds):
            messages = self.receive(queue)
            if not messages:
                break
            response = self.deliver(queue, function, messages)
            responses.append(response)
            if self._failed_ids(response, [m["MessageId"] for m in messages]):
                break  # failed messages stay invisible until their visibility timeout, as on AWS
        return responses

    def deliver(self, queue: str, function: str, messages: list[dict]) -> dict:
        """Deliver received messages of `queue` to `function` as one batch: the ones it processed are
        deleted, the ones it failed stay invisible until their visibility timeout."""
        arn = f"arn:aws:sqs:us-east-1:123456789012:{queue}"
        event = {"Records": [self._sqs_record(m, arn) for m in messages]}
        response = self.runtime.invoke(function, event)
        keep = self._failed_ids(response, [m["MessageId"] for m in messages])
        for message in messages:
            if message["MessageId"] in keep:
                self.failed_handles.setdefault(queue, []).append(message["ReceiptHandle"])
            else:
                self.sqs.delete_message(QueueUrl=self.queues[queue], ReceiptHandle=message["ReceiptHandle"])
        return response

    def expire_visibility(self, queue: str) -> None:
        """Stand-in for the visibility timeout running out on the messages a batch failed."""
        for handle in self.failed_handles.pop(queue, []):
            self.sqs.change_message_visibility(
                QueueUrl=self.queues[queue], ReceiptHandle=handle, VisibilityTimeout=0
            )

    def expire_visibility_of(self, messages: list[dict], queue: str) -> None:
        """Make received (unprocessed) messages visible again at once."""
        for message in messages:
            self.sqs.change_message_visibility(
                QueueUrl=self.queues[queue], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    def reconcile(self) -> dict:
        return self.runtime.invoke("ReconcilerFunction", load_event("reconciler-schedule.json"))

    def job_item(self, job_id: str) -> dict:
        from gencore.adapters.ddb import plain_item
        from gencore.adapters.job_keys import job_key

        item = self.ddb.get_item(TableName=self.stack.env["JOBS_TABLE"], Key=job_key(job_id))["Item"]
        return plain_item(item)

    def in_flight(self) -> int:
        return wiring.store().in_flight()

    def outputs(self, prefix: str = "outputs/") -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.stack.env["OUTPUT_BUCKET"], Prefix=prefix)
        return [o["Key"] for o in listing.get("Contents", [])]

    def wait_for_leonardo(self, generation_id: str, timeout: float = 5.0) -> None:
        def finished() -> bool:
            record = self.stack.simulator.generations.get(generation_id)
            return record is not None and record.status != "PENDING"

        wait_for(finished, timeout=timeout)


@pytest.fixture
def pipeline(stack) -> Iterator[Pipeline]:
    p = Pipeline(stack)
    yield p
    p.runtime.unload()
