"""The template's resources and one function's environment, on moto in this process.

For benches that time a handler in-process against bare AWS calls from the same clients (api,
webhook, realtime): call `deploy` inside `local_aws()`, then load handlers from the returned runtime
as the local stack does.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from moto import mock_aws

from stackrunner.aws import CREDENTIALS, ResourceCreator
from stackrunner.motoserver import patched_moto
from stackrunner.runtime import FunctionRuntime
from stackrunner.template import REGION, Template


@contextlib.contextmanager
def local_aws() -> Iterator[None]:
    """moto in this process, patched as the local stack's moto is (stackrunner.motoserver).

    Unpatched, moto's `transact_write_items` deep-copies every table once per item of the
    transaction: a write's cost grows with the table (a 6-item accept on a 500-job history copied
    the table six times), which DynamoDB's does not. The patches keep moto's checks and answers.
    """
    with mock_aws(), patched_moto():
        yield


class InProcessAws:
    """moto in this process, in the shape ResourceCreator expects of the local AWS."""

    endpoint = None

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, **CREDENTIALS)


def deploy(
    template: Template, *, function: str, secrets: dict[str, Any], environment: dict[str, str] | None = None
) -> FunctionRuntime:
    """Create the template's resources and take on `function`'s environment (plus `environment`)."""
    ResourceCreator(template, InProcessAws(), secret_values=secrets).create_all()  # type: ignore[arg-type]
    functions = template.functions()
    env = dict(functions[function].environment) | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):  # moto, and nothing else
        os.environ.pop(name, None)
    os.environ.update(env | (environment or {}))
    return FunctionRuntime(functions)


@dataclass
class Tally:
    """What one request (or one baseline call) did: AWS calls by operation, presigns, time in calls."""

    calls: Counter = field(default_factory=Counter)  # "dynamodb.GetItem" -> n
    presigns: int = 0
    aws_seconds: float = 0.0

    def of(self, service: str) -> int:
        return sum(n for op, n in self.calls.items() if op.startswith(service + "."))


class CallCounter:
    """Hooks every botocore client made from now on (wiring's, Powertools' and ours) and tallies
    each API call and each presigned URL into the current `Tally`."""

    SERVICES = {"DynamoDB": "dynamodb", "S3": "s3", "SQS": "sqs", "Secrets Manager": "secretsmanager"}

    def __init__(self) -> None:
        self.current = Tally()
        self._started: list[float] = []
        self._original = botocore.session.Session.create_client

    def install(self) -> None:
        counter, original = self, self._original

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            counter.attach(client)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]

    def uninstall(self) -> None:
        botocore.session.Session.create_client = self._original  # type: ignore[method-assign]

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-call", self._before)
        events.register("after-call", self._after)
        events.register("after-call-error", self._after)
        events.register("before-sign", self._signing)

    @contextlib.contextmanager
    def measure(self) -> Iterator[Tally]:
        self.current = Tally()
        self._started.clear()
        yield self.current

    def _before(self, model: Any, **_: Any) -> None:
        service = self.SERVICES.get(model.service_model.service_id, str(model.service_model.service_id))
        self.current.calls[f"{service}.{model.name}"] += 1
        self._started.append(time.perf_counter())

    def _after(self, **_: Any) -> None:
        if self._started:
            self.current.aws_seconds += time.perf_counter() - self._started.pop()

    def _signing(self, signature_version: str = "", **_: Any) -> None:
        if str(signature_version).endswith("-query"):  # a presigned URL: signed here, never sent
            self.current.presigns += 1
