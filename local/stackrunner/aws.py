"""Local AWS: moto's server on loopback, with the template's resources created in it.

moto runs in a child process by default (a core of its own, see motoserver.py); `in_process=True`
keeps it on a thread of this process, for callers that need moto's state here.

Each supported resource type has one small creator that returns what
CloudFormation would: the Ref value and the GetAtt attributes. Types with no
local meaning (functions, layers, the HTTP API) get a placeholder identity.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
from collections.abc import Callable
from typing import Any

import boto3

from stackrunner.motoserver import ChildProcessMoto, InThreadMoto
from stackrunner.template import ACCOUNT_ID, REGION, Physical, Template

log = logging.getLogger("stackrunner.aws")

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class LocalAws:
    def __init__(self, host: str = "127.0.0.1", port: int = 4566, *, in_process: bool = False) -> None:
        self.host = host
        self.port = port
        self.in_process = in_process
        self.endpoint = f"http://{host}:{port}"
        self._server: ChildProcessMoto | InThreadMoto | None = None

    def start(self) -> None:
        server = (InThreadMoto if self.in_process else ChildProcessMoto)(self.host, self.port)
        server.start()
        self._server = server
        log.info("local AWS (moto%s) at %s", ", in-process" if self.in_process else "", self.endpoint)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, **CREDENTIALS)


class ResourceCreator:
    """Creates the template's resources in local AWS, in dependency order."""

    def __init__(
        self,
        template: Template,
        aws: LocalAws,
        visibility_scale: float = 1.0,
        secret_values: dict[str, Any] | None = None,
    ) -> None:
        self.t = template
        self.aws = aws
        self.visibility_scale = visibility_scale
        self.secret_values = secret_values or {}
        self._creators: dict[str, Callable[[str, dict[str, Any]], Physical]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::S3::Bucket": self._bucket,
            "AWS::S3::BucketPolicy": self._bucket_policy,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::Events::Rule": self._rule,
        }

    def create_all(self) -> dict[str, Physical]:
        for logical in self.t.creation_order():
            kind = self.t.resources[logical]["Type"]
            creator = self._creators.get(kind)
            if creator is None:
                self.t.physical[logical] = self._placeholder(logical, kind)
                continue
            props = self.t.resolve(self.t.resources[logical].get("Properties", {}))
            self.t.physical[logical] = creator(logical, props)
            log.debug("created %s %s -> %s", kind, logical, self.t.physical[logical].ref)
        return self.t.physical

    def delete_all(self) -> None:
        """Delete what create_all made, newest first: in-process, moto's state outlives its server."""
        deleters = {
            "AWS::DynamoDB::Table": lambda p: self.aws.client("dynamodb").delete_table(TableName=p.ref),
            "AWS::SQS::Queue": lambda p: self.aws.client("sqs").delete_queue(QueueUrl=p.ref),
            "AWS::S3::Bucket": self._delete_bucket,
            "AWS::SecretsManager::Secret": lambda p: self.aws.client("secretsmanager").delete_secret(
                SecretId=p.ref, ForceDeleteWithoutRecovery=True
            ),
            "AWS::Events::EventBus": self._delete_event_bus,
        }
        for logical in reversed(list(self.t.physical)):
            deleter = deleters.get(self.t.resources[logical]["Type"])
            if deleter is None:
                continue
            try:
                deleter(self.t.physical[logical])
            except Exception as exc:
                log.warning("could not delete %s: %s", logical, exc)

    def _delete_bucket(self, phys: Physical) -> None:
        s3 = self.aws.client("s3")
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=phys.ref):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=phys.ref, Key=item["Key"], VersionId=item["VersionId"])
        s3.delete_bucket(Bucket=phys.ref)

    def _name(self, logical: str) -> str:
        return f"{self.t.stack_name}-{logical}"

    def _placeholder(self, logical: str, kind: str) -> Physical:
        name = self._name(logical)
        arn_kinds = {
            "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
            "AWS::Serverless::LayerVersion": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{name}:1",
        }
        if kind == "AWS::Serverless::HttpApi":
            return Physical(ref="localapi", attrs={"ApiEndpoint": "http://127.0.0.1"})
        arn = arn_kinds.get(kind, f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{name}")
        ref = name if kind == "AWS::Serverless::Function" else arn
        return Physical(ref=ref, attrs={"Arn": arn})

    # ----- DynamoDB -------------------------------------------------------------------------------

    def _table(self, logical: str, p: dict[str, Any]) -> Physical:
        ddb = self.aws.client("dynamodb")
        name = p.get("TableName", self._name(logical))
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": p["AttributeDefinitions"],
            "KeySchema": p["KeySchema"],
            "BillingMode": p.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
            if key in p:
                args[key] = p[key]
        if "StreamSpecification" in p:
            args["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
        if p.get("SSESpecification", {}).get("SSEEnabled"):
            args["SSESpecification"] = {"Enabled": True}
        desc = ddb.create_table(**args)["TableDescription"]
        ttl = p.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        if p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            ddb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        attrs = {"Arn": desc["TableArn"]}
        if "LatestStreamArn" in desc:
            attrs["StreamArn"] = desc["LatestStreamArn"]
        return Physical(ref=name, attrs=attrs)

    # ----- SQS ------------------------------------------------------------------------------------

    def scaled_visibility(self, seconds: Any) -> int:
        # SQS only takes whole seconds, and 0 would make every message instantly visible again.
        return max(1, round(int(seconds) * self.visibility_scale))

    def _queue(self, logical: str, p: dict[str, Any]) -> Physical:
        sqs = self.aws.client("sqs")
        fifo = bool(p.get("FifoQueue"))
        name = p.get("QueueName") or self._name(logical) + (".fifo" if fifo else "")
        attributes: dict[str, str] = {
            "VisibilityTimeout": str(self.scaled_visibility(p.get("VisibilityTimeout", 30)))
        }
        for key in (
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
            "SqsManagedSseEnabled",
            "FifoQueue",
            "ContentBasedDeduplication",
        ):
            if key in p:
                value = p[key]
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        if "RedrivePolicy" in p:
            redrive = p["RedrivePolicy"]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": redrive["deadLetterTargetArn"],
                    "maxReceiveCount": int(redrive["maxReceiveCount"]),
                }
            )
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Physical(ref=url, attrs={"Arn": arn, "QueueName": name, "QueueUrl": url})

    # ----- S3 -------------------------------------------------------------------------------------

    def _bucket(self, logical: str, p: dict[str, Any]) -> Physical:
        s3 = self.aws.client("s3")
        name = p.get("BucketName") or self._name(logical).lower()[:63]
        s3.create_bucket(Bucket=name)
        if "PublicAccessBlockConfiguration" in p:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"]
            )
        if "BucketEncryption" in p:
            # CloudFormation says ServerSideEncryptionByDefault where the S3 API says Apply...
            rules = [
                {("Apply" + k if k == "ServerSideEncryptionByDefault" else k): v for k, v in rule.items()}
                for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "OwnershipControls" in p:
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=p["OwnershipControls"])
        status = p.get("VersioningConfiguration", {}).get("Status")
        if status:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
        if "LifecycleConfiguration" in p:
            log.info("%s: lifecycle rules are not applied locally", logical)
        return Physical(
            ref=name,
            attrs={
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
            },
        )

    def _bucket_policy(self, logical: str, p: dict[str, Any]) -> Physical:
        # moto's server enforces bucket policies, and local AWS speaks plain HTTP on loopback: a
        # TLS-only statement (aws:SecureTransport=false -> Deny) would refuse every local call, so it
        # is left out here. On AWS it applies as written.
        document = dict(p["PolicyDocument"])
        document["Statement"] = [
            s
            for s in document.get("Statement", [])
            if "aws:SecureTransport" not in json.dumps(s.get("Condition", {}))
        ]
        if document["Statement"]:
            self.aws.client("s3").put_bucket_policy(Bucket=p["Bucket"], Policy=json.dumps(document))
        return Physical(ref=logical)

    # ----- EventBridge ------------------------------------------------------------------------------

    def _event_bus(self, logical: str, p: dict[str, Any]) -> Physical:
        name = p.get("Name", self._name(logical))
        arn = self.aws.client("events").create_event_bus(Name=name)["EventBusArn"]
        return Physical(ref=name, attrs={"Arn": arn, "Name": name})

    def _rule(self, logical: str, p: dict[str, Any]) -> Physical:
        """A rule and its SQS targets; other targets (functions...) have no local delivery here."""
        events = self.aws.client("events")
        name = p.get("Name", self._name(logical))[:64]
        bus = p.get("EventBusName", "default")
        rule: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": p.get("State", "ENABLED")}
        if "EventPattern" in p:
            pattern = p["EventPattern"]
            rule["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if "ScheduleExpression" in p:
            rule["ScheduleExpression"] = p["ScheduleExpression"]
        arn = events.put_rule(**rule)["RuleArn"]
        targets = []
        for target in p.get("Targets", []):
            if not str(target.get("Arn", "")).startswith("arn:aws:sqs:"):
                log.info("%s: target %s is not delivered locally", logical, target.get("Id"))
                continue
            keep = ("Id", "Arn", "Input", "InputPath", "InputTransformer", "SqsParameters")
            targets.append({k: v for k, v in target.items() if k in keep})
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        return Physical(ref=name, attrs={"Arn": arn})

    def _delete_event_bus(self, phys: Physical) -> None:
        """Its rules first (the template's and the stack's tap): EventBridge refuses a bus with rules."""
        events = self.aws.client("events")
        for rule in events.list_rules(EventBusName=phys.ref).get("Rules", []):
            ids = [
                t["Id"]
                for t in events.list_targets_by_rule(Rule=rule["Name"], EventBusName=phys.ref)["Targets"]
            ]
            if ids:
                events.remove_targets(Rule=rule["Name"], EventBusName=phys.ref, Ids=ids)
            events.delete_rule(Name=rule["Name"], EventBusName=phys.ref)
        events.delete_event_bus(Name=phys.ref)

    # ----- Secrets Manager ------------------------------------------------------------------------

    def _secret(self, logical: str, p: dict[str, Any]) -> Physical:
        value = self.secret_string(logical, p)
        sm = self.aws.client("secretsmanager")
        name = p.get("Name", self._name(logical))
        arn = sm.create_secret(Name=name, SecretString=value, Description=p.get("Description", ""))["ARN"]
        return Physical(ref=arn, attrs={"Id": arn, "Name": name})

    def secret_string(self, logical: str, p: dict[str, Any]) -> str:
        """The local value: a dict from config is stored as JSON; a string fills GenerateStringKey."""
        local = self.secret_values.get(logical)
        if isinstance(local, dict):
            return json.dumps(local)
        generate = p.get("GenerateSecretString")
        if generate:
            body = json.loads(generate.get("SecretStringTemplate", "{}"))
            key = generate.get("GenerateStringKey")
            value = local if local is not None else _random_password(generate)
            if key is None:
                return value
            body[key] = value
            return json.dumps(body)
        if local is not None:
            return str(local)
        return p.get("SecretString", "")


def _random_password(spec: dict[str, Any]) -> str:
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?[]^_{|}~"
    excluded = spec.get("ExcludeCharacters", "")
    alphabet = "".join(c for c in alphabet if c not in excluded)
    return "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
