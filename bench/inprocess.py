"""The template's resources and one function's environment, on moto in this process.

For benches that time a handler in-process against bare AWS calls from the same clients (api,
webhook, realtime): call `deploy` inside `local_aws()`, then load handlers from the returned runtime
as the local stack does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import boto3
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
