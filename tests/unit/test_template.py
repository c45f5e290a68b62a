"""The template's safety properties, read as a specification."""

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


_CfnLoader.add_multi_constructor("!", _tag)
TEMPLATE = yaml.load(Path("template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
RESOURCES = TEMPLATE["Resources"]


def _of_type(kind):
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def test_every_work_queue_has_a_dead_letter_queue():
    queues = _of_type("AWS::SQS::Queue")
    work = {n: q for n, q in queues.items() if not n.endswith("DLQ")}
    assert work
    for name, queue in work.items():
        redrive = queue["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"]["GetAtt"].endswith("DLQ.Arn"), name
        assert 3 <= redrive["maxReceiveCount"] <= 5, name


def test_sqs_consumers_report_partial_batch_failures_and_visibility_covers_six_timeouts():
    timeout_default = TEMPLATE["Globals"]["Function"]["Timeout"]
    for name, fn in _of_type("AWS::Serverless::Function").items():
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
            queue = event["Properties"]["Queue"]["GetAtt"].split(".")[0]
            timeout = fn["Properties"].get("Timeout", timeout_default)
            assert RESOURCES[queue]["Properties"]["VisibilityTimeout"] >= 6 * timeout, name


def test_tables_have_ttl_and_encryption():
    for name, table in _of_type("AWS::DynamoDB::Table").items():
        assert table["Properties"]["TimeToLiveSpecification"]["Enabled"] is True, name
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True, name


def test_bucket_blocks_public_access_encrypts_and_denies_plain_http():
    bucket = RESOURCES["OutputBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    statements = RESOURCES["OutputBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false" for s in statements
    )


def test_functions_run_python313_on_arm64_with_the_shared_layer():
    glob = TEMPLATE["Globals"]["Function"]
    assert glob["Runtime"] == "python3.13"
    assert glob["Architectures"] == ["arm64"]
    assert RESOURCES["CoreLayer"]["Metadata"]["BuildMethod"] == "python3.13"


def test_only_health_and_webhook_routes_skip_the_jwt_authorizer():
    open_routes = set()
    for fn in _of_type("AWS::Serverless::Function").values():
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi" and event["Properties"].get("Auth", {}).get("Authorizer") == "NONE":
                open_routes.add(event["Properties"]["Path"])
    assert open_routes == {"/health", "/webhooks/leonardo"}


def test_no_function_gets_wildcard_permissions():
    for name, fn in _of_type("AWS::Serverless::Function").items():
        for policy in fn["Properties"].get("Policies", []):
            assert isinstance(policy, dict), f"{name}: managed or inline policy strings are too broad"
            # Inline statements only where no policy template is narrow enough: named actions on a
            # key prefix of our own bucket, never a wildcard action or resource.
            for statement in policy.get("Statement", []):
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                assert statement["Effect"] == "Allow" and all("*" not in a for a in actions), name
                resources = statement["Resource"]
                for resource in resources if isinstance(resources, list) else [resources]:
                    assert isinstance(resource, dict) and "Sub" in resource, name
                    assert resource["Sub"].startswith(
                        ("${OutputBucket.Arn}/uploads/", "${OutputBucket.Arn}/incoming/")
                    )
