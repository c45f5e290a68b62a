"""Where the stack's resources are: CloudFormation on AWS, the local runner's naming on loopback.

Commands ask for resources by their template logical id (SubmitDLQ, JobsTable, ...), so no physical
name is ever typed by hand or kept in code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_ENDPOINT = "http://127.0.0.1:4566"
LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=20)

# What each function receives from the template (Globals.Function.Environment), by logical id.
FUNCTION_ENVIRONMENT = {
    "JOBS_TABLE": "JobsTable",
    "IDEMPOTENCY_TABLE": "IdempotencyTable",
    "OUTPUT_BUCKET": "OutputBucket",
    "SUBMIT_QUEUE_URL": "SubmitQueue",
    "EVENTS_QUEUE_URL": "EventsQueue",
    "LEONARDO_API_KEY_SECRET": "LeonardoApiKeySecret",
    "WEBHOOK_SECRET": "WebhookSecret",
}
# Template parameters that reach the functions' environment unchanged.
PARAMETER_ENVIRONMENT = {
    "LeonardoBaseUrl": "LEONARDO_BASE_URL",
    "LeonardoMaxConcurrency": "LEONARDO_MAX_CONCURRENCY",
    "AllowedOutputOrigins": "ALLOWED_OUTPUT_ORIGINS",
    "DedupeWindowSeconds": "DEDUPE_WINDOW_SECONDS",
    "MaxJobAgeSeconds": "MAX_JOB_AGE_SECONDS",
    "LeonardoHoldMaxSeconds": "LEONARDO_HOLD_MAX_SECONDS",
    "PlansDocument": "PLANS_DOCUMENT",
    "BillingUnit": "BILLING_UNIT",
}


class ResourceNotFound(LookupError):
    pass


def default_stack_name(local: bool) -> str:
    """samconfig.toml's stack name; the local runner appends -local to it."""
    try:
        doc = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())
        name = doc["default"]["global"]["parameters"]["stack_name"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "local" if local else "leonardo-backend-dev"
    return f"{name}-local" if local else name


@dataclass
class Stack:
    """One deployed (or locally running) stack."""

    name: str
    local: bool = False
    endpoint_url: str | None = None
    region: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)  # logical id -> physical id

    def __post_init__(self) -> None:
        if self.local:
            self.endpoint_url = self.endpoint_url or LOCAL_ENDPOINT
            self.region = self.region or LOCAL_REGION
        self._clients: dict[str, Any] = {}
        self._physical: dict[str, str] | None = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            extra = LOCAL_CREDENTIALS if self.local else {}
            self._clients[service] = boto3.client(
                service, endpoint_url=self.endpoint_url, region_name=self.region, config=_BOTO_CONFIG, **extra
            )
        return self._clients[service]

    # ----- physical ids -----------------------------------------------------------------------

    def physical_id(self, logical: str) -> str:
        """CloudFormation's physical id (queue URL, table name, secret ARN, bucket or function name)."""
        if logical in self.overrides:
            return self.overrides[logical]
        if self.local:
            return self._local_physical_id(logical)
        resources = self._stack_resources()
        if logical not in resources:
            raise ResourceNotFound(f"stack {self.name} has no resource {logical}")
        return resources[logical]

    def _stack_resources(self) -> dict[str, str]:
        if self._physical is None:
            found = self.client("cloudformation").describe_stack_resources(StackName=self.name)
            self._physical = {
                r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in found["StackResources"]
                if r.get("PhysicalResourceId")
            }
        return self._physical

    def _local_physical_id(self, logical: str) -> str:
        # The local runner names resources <stack>-<LogicalId>, buckets in lower case.
        name = f"{self.name}-{logical}"
        if logical.endswith(("Queue", "DLQ")):
            try:
                return self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
            except self.client("sqs").exceptions.QueueDoesNotExist as missing:
                raise ResourceNotFound(f"no local queue {name} (is the local stack running?)") from missing
        if logical.endswith("Bucket"):
            return name.lower()[:63]
        return name

    # ----- the functions' environment ---------------------------------------------------------

    def function_environment(self, function_logical: str = "ReconcilerFunction") -> dict[str, str]:
        """The variables the deployed function runs with, so an on-demand run behaves the same.

        On AWS: the function's own configuration when readable (lambda:GetFunctionConfiguration),
        else the stack's resources and parameters. Locally: the runner's resources, the local AWS
        endpoint, and the Leonardo simulator on its default port.
        """
        if not self.local:
            try:
                config = self.client("lambda").get_function_configuration(
                    FunctionName=self.physical_id(function_logical)
                )
                return dict(config.get("Environment", {}).get("Variables", {}))
            except Exception as error:  # any failure: rebuild it from the stack
                print(f"(could not read {function_logical} configuration: {error}; using stack resources)")
        env = {variable: self.physical_id(logical) for variable, logical in FUNCTION_ENVIRONMENT.items()}
        if self.local:
            env |= {
                "AWS_ENDPOINT_URL": self.endpoint_url or LOCAL_ENDPOINT,
                "AWS_DEFAULT_REGION": self.region or LOCAL_REGION,
                "AWS_REGION": self.region or LOCAL_REGION,
                "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
                "LEONARDO_BASE_URL": "http://127.0.0.1:8090/api/rest/v1",
            }
        else:
            env |= self._parameter_environment()
            if self.region:
                env |= {"AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        return env

    def _parameter_environment(self) -> dict[str, str]:
        stack = self.client("cloudformation").describe_stacks(StackName=self.name)["Stacks"][0]
        values = {p["ParameterKey"]: p.get("ResolvedValue", p["ParameterValue"]) for p in stack["Parameters"]}
        return {var: values[name] for name, var in PARAMETER_ENVIRONMENT.items() if name in values}
