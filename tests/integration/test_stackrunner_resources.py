"""Every resource in the template exists in local AWS, configured as declared."""

import json

import pytest

from tests.fixtures.stack.harness import start_fixture_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_fixture_stack(tmp_path_factory.mktemp("jwt"))
    yield stack
    stack.stop()


def test_moto_listens_on_loopback_only(stack):
    assert stack.aws_endpoint.startswith("http://127.0.0.1:")


def test_table_has_keys_gsis_and_ttl(stack):
    ddb = stack.boto3_client("dynamodb")
    name = stack.physical_ids["RecordsTable"]
    table = ddb.describe_table(TableName=name)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    (gsi,) = table["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "ByKind"
    assert gsi["Projection"]["ProjectionType"] == "KEYS_ONLY"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expires_at", "ENABLED")


def test_queues_redrive_to_their_dlq_with_scaled_visibility(stack):
    sqs = stack.boto3_client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=stack.physical_ids["WorkQueue"], AttributeNames=["All"])[
        "Attributes"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=stack.physical_ids["WorkDLQ"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}
    assert attrs["VisibilityTimeout"] == "2"  # 100 s x 0.02
    crash = sqs.get_queue_attributes(
        QueueUrl=stack.physical_ids["CrashQueue"], AttributeNames=["VisibilityTimeout"]
    )
    assert crash["Attributes"]["VisibilityTimeout"] == "1"  # 50 x 0.02, never below 1 s


def test_conditional_resources_are_skipped(stack):
    assert "ProdOnlyQueue" not in stack.physical_ids


def test_bucket_is_private_and_encrypted(stack):
    s3 = stack.boto3_client("s3")
    bucket = stack.physical_ids["FilesBucket"]
    assert bucket == f"{stack.config.stack_name}-filesbucket"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


def test_secrets_get_local_values_and_ref_is_the_arn(stack):
    sm = stack.boto3_client("secretsmanager")
    ids = stack.physical_ids
    assert ids["ApiSecret"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:")
    assert json.loads(sm.get_secret_value(SecretId=ids["ApiSecret"])["SecretString"]) == {"token": "set-me"}
    generated = json.loads(sm.get_secret_value(SecretId=ids["GeneratedSecret"])["SecretString"])
    assert generated["user"] == "svc" and len(generated["password"]) == 24 and generated["password"].isalnum()
    configured = json.loads(sm.get_secret_value(SecretId=ids["ConfiguredSecret"])["SecretString"])
    assert configured == {"webhook_key": "configured-value"}


def test_function_environment_points_at_the_created_resources(stack):
    event = {"routeKey": "GET /open", "requestContext": {"http": {"method": "GET"}}}
    env = json.loads(stack.invoke("EchoFunction", event)["body"])["env"]
    ids = stack.physical_ids
    assert env["RECORDS_TABLE"] == ids["RecordsTable"]
    assert env["WORK_QUEUE_URL"] == ids["WorkQueue"]
    assert env["API_SECRET"] == ids["ApiSecret"]
    assert env["AWS_ENDPOINT_URL"] == stack.aws_endpoint
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"


def test_fake_context_describes_the_function(stack):
    event = {"routeKey": "GET /open", "requestContext": {"http": {"method": "GET"}}}
    context = json.loads(stack.invoke("EchoFunction", event)["body"])["context"]
    assert context["function_name"] == f"{stack.config.stack_name}-EchoFunction"
    assert context["memory_limit_in_mb"] == "128"  # a string, as the Python runtime gives it
    assert context["invoked_function_arn"].endswith(":function:" + context["function_name"])
    assert context["log_group_name"] == "/aws/lambda/" + context["function_name"]
    assert 0 < context["remaining_ms"] <= 5000


def test_stopping_deletes_the_stack_resources(tmp_path_factory):
    stack = start_fixture_stack(tmp_path_factory.mktemp("jwt2"))
    table = stack.physical_ids["RecordsTable"]
    ddb_names = stack.boto3_client("dynamodb").list_tables()["TableNames"]
    assert table in ddb_names
    other = start_fixture_stack(tmp_path_factory.mktemp("jwt3"))
    try:
        stack.stop()
        assert table not in other.boto3_client("dynamodb").list_tables()["TableNames"]
    finally:
        other.stop()
