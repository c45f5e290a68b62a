"""The template's safety properties, read as a specification."""

from pathlib import Path

import pytest

from tests.support.template import load_template

pytestmark = pytest.mark.unit


TEMPLATE = load_template()
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
    layer = RESOURCES["CoreLayer"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}


def test_the_layer_is_built_for_lambdas_platform_with_bytecode_compiled_in():
    # sam build runs `build-CoreLayer` from the layer's ContentUri (BuildMethod makefile).
    layer_dir = Path(__file__).resolve().parents[2] / RESOURCES["CoreLayer"]["Properties"]["ContentUri"]
    makefile = (layer_dir / "Makefile").read_text()
    assert "build-CoreLayer:" in makefile
    assert "--python-version 3.13" in makefile and "aarch64" in makefile and "--only-binary=:all:" in makefile
    assert "compileall" in makefile and "--invalidation-mode unchecked-hash" in makefile


def test_only_health_docs_and_webhook_routes_skip_the_jwt_authorizer():
    open_routes = set()
    for fn in _of_type("AWS::Serverless::Function").values():
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi" and event["Properties"].get("Auth", {}).get("Authorizer") == "NONE":
                open_routes.add(event["Properties"]["Path"])
    assert open_routes == {"/health", "/webhooks/leonardo", "/v1/docs", "/v1/docs/{asset}"}


STACK_PARAMETERS = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${AWS::StackName}/"
# The apps' webhook signing secrets, one per endpoint, created by `python -m ops webhooks add`.
APP_WEBHOOK_SECRETS = (
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
    "${AWS::StackName}/app-webhooks/"
)


def test_no_function_gets_wildcard_permissions():
    # The exact grants of each function are pinned in test_permissions.py; here the general rule.
    for name, fn in _of_type("AWS::Serverless::Function").items():
        for policy in fn["Properties"].get("Policies", []):
            assert isinstance(policy, dict), f"{name}: managed or inline policy strings are too broad"
            assert set(policy) == {"Statement"}, f"{name}: SAM policy templates grant more than they say"
            # Named actions on named resources of this stack: never a wildcard action or resource.
            for statement in policy["Statement"]:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                assert statement["Effect"] == "Allow" and all("*" not in a for a in actions), name
                resources = statement["Resource"]
                for resource in resources if isinstance(resources, list) else [resources]:
                    assert isinstance(resource, dict) and set(resource) & {"Sub", "GetAtt", "Ref"}, name
                    if "Sub" in resource:
                        # Only key prefixes of our bucket, indexes of our table, the stack's own
                        # SSM parameters and its apps' webhook secrets end in a wildcard.
                        assert resource["Sub"].startswith(
                            ("${OutputBucket.Arn}/", "${JobsTable.Arn}/index/", STACK_PARAMETERS,
                             APP_WEBHOOK_SECRETS)
                        )  # fmt: skip
                        sub = resource["Sub"]
                        whole = sub.endswith("}/*") and not sub.startswith(
                            (STACK_PARAMETERS, APP_WEBHOOK_SECRETS)
                        )
                        assert not whole, f"{name}: a whole bucket or table"
                    else:
                        target = resource.get("GetAtt") or resource.get("Ref")
                        assert target.split(".")[0] in RESOURCES, name


# ----- the output bucket's lifecycle: deleted means deleted ----------------------------------------


def _written_prefixes() -> set[str]:
    """Every key prefix the code writes in the bucket, read from the code itself."""
    from types import SimpleNamespace

    from gencore.domain.batch_records import items_key
    from gencore.domain.processing import output_prefix
    from gencore.domain.uploads import incoming_key, upload_key

    key = upload_key("user", "upload", "image/png")
    keys = {key, incoming_key(SimpleNamespace(key=key)), output_prefix(SimpleNamespace(user_id="u", id="j"))}
    keys.add(items_key("user", "batch"))
    return {k.split("/")[0] + "/" for k in keys}


def _granted_write_prefixes() -> set[str]:
    """Every key prefix a function may write (s3:PutObject), from the template."""
    found = set()
    for fn in _of_type("AWS::Serverless::Function").values():
        for policy in fn["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []):
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                if "s3:PutObject" not in actions:
                    continue
                resources = statement["Resource"]
                for resource in resources if isinstance(resources, list) else [resources]:
                    found.add(resource["Sub"].removeprefix("${OutputBucket.Arn}/").removesuffix("*"))
    return found


LIFECYCLE = RESOURCES["OutputBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
RETENTION = TEMPLATE["Parameters"].get("NoncurrentVersionRetentionDays", {})


def _rules_for(prefix: str) -> list[dict]:
    """Enabled rules that apply to every key under `prefix` (bucket-wide rules included)."""
    covering = []
    for rule in LIFECYCLE:
        rule_prefix = rule.get("Prefix", rule.get("Filter", {}).get("Prefix", ""))
        if rule["Status"] == "Enabled" and "TagFilters" not in rule and prefix.startswith(rule_prefix):
            covering.append(rule)
    return covering


def _days(value) -> int:
    return (
        int(RETENTION.get("Default", 7)) if value == {"Ref": "NoncurrentVersionRetentionDays"} else int(value)
    )


def test_the_lifecycle_knows_every_prefix_we_write():
    written = _written_prefixes() | _granted_write_prefixes()
    assert written == {"outputs/", "uploads/", "incoming/", "batches/"}
    for prefix in written:
        assert _rules_for(prefix), prefix


@pytest.mark.parametrize("prefix", ["outputs/", "uploads/", "incoming/"])
def test_deleted_files_are_gone_after_the_undo_window_and_failed_multipart_parts_after_a_day(prefix):
    rules = _rules_for(prefix)
    noncurrent = [_days(r["NoncurrentVersionExpiration"]["NoncurrentDays"]) for r in rules
                  if "NoncurrentVersionExpiration" in r]  # fmt: skip
    assert noncurrent and min(noncurrent) <= int(RETENTION["Default"]), (
        prefix
    )  # overlapping: the shorter wins
    assert any(r.get("ExpiredObjectDeleteMarker") is True for r in rules), prefix
    aborts = [r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for r in rules
              if "AbortIncompleteMultipartUpload" in r]  # fmt: skip
    assert aborts and min(aborts) <= 1, prefix


def test_the_undo_window_is_a_parameter_and_live_files_never_expire():
    assert RETENTION.get("Type") == "Number" and RETENTION.get("Default") == 7
    assert RETENTION.get("MinValue", 0) >= 1
    for prefix in ("outputs/", "uploads/"):
        assert any(
            r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")
            == {"Ref": "NoncurrentVersionRetentionDays"}
            for r in _rules_for(prefix)
        ), prefix
        # A bucket-wide rule must never expire current versions: outputs and checked uploads live on.
        assert not any("ExpirationInDays" in r or "ExpirationDate" in r for r in _rules_for(prefix)), prefix
    incoming = _rules_for("incoming/")
    assert [r["ExpirationInDays"] for r in incoming if "ExpirationInDays" in r] == [1]
    for rule in LIFECYCLE:  # S3 refuses ExpiredObjectDeleteMarker next to an expiry in days or a date
        assert not (
            rule.get("ExpiredObjectDeleteMarker") and {"ExpirationInDays", "ExpirationDate"} & set(rule)
        )


def test_the_hold_limit_of_a_blocked_account_is_a_parameter_the_reconciler_reads():
    parameter = TEMPLATE["Parameters"]["LeonardoHoldMaxSeconds"]
    assert parameter["Type"] == "Number" and parameter["Default"] == 21600 and parameter["MinValue"] >= 60
    reconciler = RESOURCES["ReconcilerFunction"]["Properties"]["Environment"]["Variables"]
    assert reconciler["LEONARDO_HOLD_MAX_SECONDS"] == {"Ref": "LeonardoHoldMaxSeconds"}
    from gencore.settings import Settings

    required = {"JOBS_TABLE": "t", "IDEMPOTENCY_TABLE": "i", "OUTPUT_BUCKET": "b", "SUBMIT_QUEUE_URL": "s",
                "EVENTS_QUEUE_URL": "e", "LEONARDO_API_KEY_SECRET": "k", "WEBHOOK_SECRET": "w"}  # fmt: skip
    settings = Settings.from_env(required | {"LEONARDO_HOLD_MAX_SECONDS": "7200"})
    assert settings.account_policy().hold_max_seconds == 7200
    assert Settings.from_env(required).account_policy().hold_max_seconds == parameter["Default"]


def test_the_reconciler_timeout_leaves_room_for_its_budget_and_reserve():
    from gencore.domain.policy import Policy
    from gencore.settings import Settings

    timeout = RESOURCES["ReconcilerFunction"]["Properties"]["Timeout"]
    reserve = Settings.model_fields["reconcile_reserve_seconds"].default
    assert Policy().reconcile_budget_seconds + reserve < timeout


def test_the_submitter_has_time_for_one_paid_post_at_the_largest_read_timeout():
    """The paid POST is sent once and never started without time for its worst case: with the
    largest read timeout allowed, one record must still fit in the submitter's Timeout."""
    from gencore.settings import POST_RECORD_SECONDS, Settings

    defaults = Settings.model_fields
    worst = (
        defaults["leonardo_connect_timeout_seconds"].default
        + defaults["leonardo_write_timeout_seconds"].default
        + TEMPLATE["Parameters"]["LeonardoReadTimeoutSeconds"]["MaxValue"]
        + defaults["leonardo_pool_timeout_seconds"].default
        + POST_RECORD_SECONDS
    )
    assert worst < RESOURCES["SubmitterFunction"]["Properties"]["Timeout"]
    lease = defaults["submit_lease_seconds"].default
    assert lease > RESOURCES["SubmitterFunction"]["Properties"]["Timeout"]  # a lease outlives its holder


def test_an_unknown_generation_is_dropped_before_its_event_could_reach_the_dlq():
    """The processor retries a completion for a generation not recorded yet (an adoption may be
    under way) for a grace period, then drops it; the queue must not park it in the DLQ first."""
    from gencore.settings import Settings

    queue = RESOURCES["EventsQueue"]["Properties"]
    to_dlq = queue["VisibilityTimeout"] * queue["RedrivePolicy"]["maxReceiveCount"]
    assert Settings.model_fields["unknown_generation_grace_seconds"].default < to_dlq


# ----- completion events (docs/events.md) -------------------------------------------------------------

# The functions whose code can end a job (docs/events.md, "How an event is published"): each publishes
# the event of the write it just made; the reconciler also publishes what is still pending.
JOB_ENDERS = {"ApiFunction", "SubmitterFunction", "ProcessorFunction", "ReconcilerFunction", "BatchFunction"}


def _statements(function: str) -> list[dict]:
    policies = RESOURCES[function]["Properties"].get("Policies", [])
    return [s for p in policies for s in p.get("Statement", [])]


def _actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_completion_events_go_to_a_bus_of_the_stack_named_after_it():
    bus = RESOURCES["EventBus"]
    assert bus["Type"] == "AWS::Events::EventBus"
    assert bus["Properties"]["Name"] == {"Sub": "${AWS::StackName}-events"}  # never the default bus
    environment = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["EVENT_BUS_NAME"] == {"Ref": "EventBus"}
    assert TEMPLATE["Outputs"]["EventBusName"]["Value"] == {"Ref": "EventBus"}


def test_only_the_functions_that_end_jobs_put_events_and_only_on_the_stacks_bus():
    putting = set()
    for name in _of_type("AWS::Serverless::Function"):
        for statement in _statements(name):
            if "events:PutEvents" in _actions(statement):
                assert statement["Resource"] == {"GetAtt": "EventBus.Arn"}, name
                assert _actions(statement) == ["events:PutEvents"], name
                putting.add(name)
    assert putting == JOB_ENDERS


def test_every_function_that_ends_jobs_may_write_the_outbox_item_in_the_same_transaction():
    # TransactWriteItems is authorised item by item: the outbox item's Put needs PutItem on its key.
    for name in JOB_ENDERS:
        puts = [
            s
            for s in _statements(name)
            if "dynamodb:PutItem" in _actions(s) and s["Resource"] == {"GetAtt": "JobsTable.Arn"}
        ]
        leading = [
            s.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
            for s in puts
        ]
        assert any(keys is None or "OUTBOX#*" in keys for keys in leading), name
