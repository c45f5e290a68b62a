"""Least privilege, pinned: every (action, resource, condition) each function's role gets.

The pins are derived from what the code calls (gencore/adapters/*.py, gencore/wiring.py,
functions/*/app.py), not from what would be convenient. A function that gains an action, a
resource or loses a condition fails here: change the pin together with the code that needs it.

Only inline statements are allowed: SAM's policy templates are broader than they read
(DynamoDBCrudPolicy includes Scan and BatchWriteItem, S3CrudPolicy includes PutLifecycleConfiguration
and PutBucketAcl, SQSSendMessagePolicy is sqs:SendMessage*). SAM still adds its own managed
policies to each role (logs, X-Ray write, and for SQS event sources the queue poller's
ReceiveMessage/DeleteMessage/GetQueueAttributes): those come from the function's settings and
events, not from `Policies`.

DynamoDB has no IAM action for TransactWriteItems: each item of a transaction is authorised as its
own PutItem / UpdateItem / DeleteItem (ConditionCheckItem for a ConditionCheck, used nowhere here).
"""

import pytest

from tests.support.template import load_template

pytestmark = pytest.mark.unit


TEMPLATE = load_template()
FUNCTIONS = {n: r for n, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}

# What the statements' resources render as below.
JOBS, INDEX_USER_JOBS, INDEX_DUE_JOBS = (
    "JobsTable.Arn",
    "${JobsTable.Arn}/index/UserJobs",
    "${JobsTable.Arn}/index/DueJobs",
)
IDEMPOTENCY = "IdempotencyTable.Arn"
BUCKET, INCOMING, UPLOADS, OUTPUTS = (
    "OutputBucket.Arn",
    "${OutputBucket.Arn}/incoming/*",
    "${OutputBucket.Arn}/uploads/*",
    "${OutputBucket.Arn}/outputs/*",
)
SUBMIT_QUEUE, EVENTS_QUEUE, BATCH_QUEUE = "SubmitQueue.Arn", "EventsQueue.Arn", "BatchQueue.Arn"
BATCHES = "${OutputBucket.Arn}/batches/*"  # a batch's checked items (adapters/batch_files.py)
API_KEY, WEBHOOK_KEY = "LeonardoApiKeySecret", "WebhookSecret"
REQUEST_LOCKS = "ForAllValues:StringLike dynamodb:LeadingKeys=REQLOCK#*"  # DeleteItem of REQLOCK# items only
PRICES = "ForAllValues:StringLike dynamodb:LeadingKeys=PRICE#*"  # the price cache's items only
STACK_PARAMETERS = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${AWS::StackName}/*"
OUTPUT_LISTING = "StringLike s3:prefix=outputs/*"
OUTBOX = "ForAllValues:StringLike dynamodb:LeadingKeys=OUTBOX#*"  # completion events (adapters/outbox.py)
EVENT_BUS = "EventBus.Arn"
APP_WEBHOOK_ITEMS = (
    "ForAllValues:StringLike dynamodb:LeadingKeys=APPHOOKS,APPEVENT#*"  # endpoints, events, logs
)
APP_WEBHOOK_QUEUE = "AppWebhookQueue.Arn"
APP_WEBHOOK_SECRETS = (
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
    "${AWS::StackName}/app-webhooks/*"
)


def _grants(*actions: str, on: str, when: str | None = None) -> set[tuple[str, str, str | None]]:
    return {(action, on, when) for action in actions}


EXPECTED = {
    "ApiFunction": (
        # Generations.create (dedupe + job: a transaction of two Puts), get; uploads: create_upload
        # (Put), get_upload, finish_upload / mark_deleted / forget_leonardo_init_image (Update).
        _grants("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", on=JOBS)
        | _grants("dynamodb:Query", on=INDEX_USER_JOBS)  # list_for_user
        | _grants("sqs:SendMessage", on=SUBMIT_QUEUE)  # a new job's submit message
        | _grants("sqs:SendMessage", on=BATCH_QUEUE)  # a new batch's fan-out, a batch's cancel
        | _grants("s3:GetObject", "s3:PutObject", "s3:DeleteObject", on=BATCHES)  # its items file
        | _grants("ssm:GetParameter", on=STACK_PARAMETERS)  # the content rules (ContentPolicyParameter)
        | _grants("secretsmanager:GetSecretValue", on=API_KEY)  # DELETEs: Leonardo's copies
        # presigned POST (signed by this role) -> incoming/; completion: HEAD + GET incoming/, PUT
        # uploads/, DELETE both; DELETE /v1/uploads: DELETE both; presigned GET of uploads/.
        | _grants("s3:GetObject", "s3:PutObject", "s3:DeleteObject", on=INCOMING)
        | _grants("s3:GetObject", "s3:PutObject", "s3:DeleteObject", on=UPLOADS)
        | _grants("s3:GetObject", on=OUTPUTS)  # presigned GETs of a job's images
        | _grants("s3:DeleteObject", on=OUTPUTS)  # DELETE /v1/generations/{job_id}: its images
        | _grants("s3:ListBucket", on=BUCKET)  # HEAD of a file not posted yet: 404, not 403
        | _grants("events:PutEvents", on=EVENT_BUS)  # a cancel's completion event (the fast path)
    ),
    "WebhookFunction": (
        _grants("secretsmanager:GetSecretValue", on=WEBHOOK_KEY) | _grants("sqs:SendMessage", on=EVENTS_QUEUE)
    ),
    "SubmitterFunction": (
        # claim_slot, begin_post (Update + Put of the request lock), mark_submitted (Update + Put
        # of GEN#), transitions, park, reschedule, leave_line, set_leonardo_init_image, the account.
        _grants("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", on=JOBS)
        | _grants("dynamodb:DeleteItem", on=JOBS, when=REQUEST_LOCKS)  # release_request_lock
        | _grants("dynamodb:Query", on=INDEX_DUE_JOBS)  # the waiting line (Waker)
        | _grants("sqs:SendMessage", on=SUBMIT_QUEUE)  # waits and wakes
        | _grants("secretsmanager:GetSecretValue", on=API_KEY)
        | _grants("s3:GetObject", on=UPLOADS)  # InitImages reads the checked file
        | _grants("events:PutEvents", on=EVENT_BUS)  # a failed job's completion event (the fast path)
    ),
    "ProcessorFunction": (
        # job_for_generation, transition (a transaction of Updates), leave_line; no Put: it creates nothing.
        _grants("dynamodb:GetItem", "dynamodb:UpdateItem", on=JOBS)
        | _grants("dynamodb:DeleteItem", on=JOBS, when=REQUEST_LOCKS)  # terminal transitions
        | _grants("dynamodb:Query", on=INDEX_DUE_JOBS)  # the waiting line (Waker)
        # Powertools Idempotency (DynamoDBPersistenceLayer): exactly its documented item actions.
        | _grants(
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            on=IDEMPOTENCY,
        )
        | _grants("secretsmanager:GetSecretValue", on=API_KEY)  # GET /generations/{id}
        | _grants("sqs:SendMessage", on=SUBMIT_QUEUE)  # wakes
        # S3OutputStore: list + HEAD (existing), upload_fileobj (multipart above 8 MiB, aborted on failure).
        | _grants("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", on=OUTPUTS)
        | _grants("s3:ListBucket", on=BUCKET, when=OUTPUT_LISTING)
        | _grants("dynamodb:PutItem", on=JOBS, when=OUTBOX)  # a terminal transition's outbox item
        | _grants("events:PutEvents", on=EVENT_BUS)  # ... published right after (the fast path)
    ),
    "ReconcilerFunction": (
        # get, in_flight, transition, park, reschedule, leave_line; account block; orphan sweep items.
        _grants("dynamodb:GetItem", "dynamodb:UpdateItem", on=JOBS)
        | _grants("dynamodb:DeleteItem", on=JOBS, when=REQUEST_LOCKS)  # terminal transitions
        | _grants("dynamodb:Query", on=INDEX_DUE_JOBS)  # due jobs and the waiting line
        # refresh_prices: the wanted prices (a Query of PRICE#WANTED), each answer Put, its entry deleted
        | _grants("dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem", on=JOBS, when=PRICES)
        | _grants("sqs:SendMessage", on=EVENTS_QUEUE)  # what it learned by polling
        | _grants("sqs:SendMessage", on=SUBMIT_QUEUE)  # re-sends and wakes
        | _grants("sqs:SendMessage", on=BATCH_QUEUE)  # a batch's stalled fan-out or cancel, its deadline
        | _grants("secretsmanager:GetSecretValue", on=API_KEY)
        | _grants("dynamodb:PutItem", on=JOBS, when=OUTBOX)  # a terminal transition's outbox item
        | _grants("events:PutEvents", on=EVENT_BUS)  # the fast path, and the safety net (pending events)
    ),
    "BatchFunction": (
        # add_items (a transaction: the items' Puts, the batch's checkpoint and the user's line turns:
        # Updates), end_fanout (+ the ledger's release), cancel / expire of items, finish (+ outbox Put).
        _grants("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", on=JOBS)
        | _grants("dynamodb:Query", on=INDEX_USER_JOBS)  # the batch's items, in line order
        | _grants("dynamodb:Query", on=INDEX_DUE_JOBS)  # the waiting line (Waker)
        | _grants("sqs:SendMessage", on=SUBMIT_QUEUE)  # wakes
        | _grants("sqs:SendMessage", on=BATCH_QUEUE)  # a long run sends itself on
        | _grants("s3:GetObject", on=BATCHES)  # the items file, streamed
        | _grants("events:PutEvents", on=EVENT_BUS)  # Batch Completed, cancelled items' events
    ),
    "AppWebhookFunction": (
        # DynamoAppWebhookStore: endpoints (Query of APPHOOKS, Get, failure counts and disable:
        # Update), events and delivery logs (Put if absent, Get, claim and record: Update). Nothing
        # else of the table: no job, no user, no Delete.
        _grants(
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            on=JOBS,
            when=APP_WEBHOOK_ITEMS,
        )
        | _grants("sqs:SendMessage", on=APP_WEBHOOK_QUEUE)  # per-endpoint deliveries, next attempts
        | _grants("secretsmanager:GetSecretValue", on=APP_WEBHOOK_SECRETS)  # only the endpoints' secrets
    ),
    "DocsFunction": set(),  # serves files from its own package: no AWS call at all
}


def _render(value) -> str:
    if isinstance(value, str):
        return value
    ((kind, arg),) = value.items()
    if kind == "GetAtt":
        return arg if isinstance(arg, str) else ".".join(arg)
    if kind == "Ref":
        return arg
    if kind == "Sub" and isinstance(arg, str):
        return arg
    raise AssertionError(f"unexpected resource expression {value!r}")


def _condition(condition: dict | None) -> str | None:
    if not condition:
        return None
    parts = []
    for operator, tests in sorted(condition.items()):
        for key, wanted in sorted(tests.items()):
            wanted = wanted if isinstance(wanted, list) else [wanted]
            parts.append(f"{operator} {key}={','.join(wanted)}")
    return "; ".join(parts)


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def granted(function: str) -> set[tuple[str, str, str | None]]:
    """Every (action, resource, condition) the function's Policies allow."""
    found = set()
    for policy in FUNCTIONS[function]["Properties"].get("Policies", []):
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, (
            f"{function}: only inline Statement lists (no SAM policy template, no managed policy): {policy!r}"
        )
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow", function
            assert not {"NotAction", "NotResource", "Principal"} & set(statement), function
            when = _condition(statement.get("Condition"))
            for action in _listed(statement["Action"]):
                for resource in _listed(statement["Resource"]):
                    found.add((action, _render(resource), when))
    return found


def test_every_function_is_pinned():
    assert set(FUNCTIONS) == set(EXPECTED)


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_each_function_gets_exactly_what_its_code_calls(function):
    got = granted(function)
    assert got == EXPECTED[function], (
        f"{function}: gained {sorted(got - EXPECTED[function], key=str)}; "
        f"lost {sorted(EXPECTED[function] - got, key=str)}"
    )


def test_nothing_scans_or_changes_the_bucket_or_tables_themselves():
    for function in FUNCTIONS:
        for action, resource, _ in granted(function):
            service, _, name = action.partition(":")
            assert "*" not in action and resource != "*", (function, action, resource)
            assert action not in ("dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:PartiQLDelete"), (
                function
            )
            if service == "s3" and resource == BUCKET:
                assert name == "ListBucket", (function, action)  # no lifecycle, ACL, policy, CORS...
            assert "Acl" not in name and "Lifecycle" not in name and "Policy" not in name, (function, action)


def test_only_the_api_deletes_files_and_only_on_its_owners_request():
    deletes = {
        (function, resource)
        for function in FUNCTIONS
        for action, resource, _ in granted(function)
        if action == "s3:DeleteObject"
    }
    assert deletes == {
        ("ApiFunction", INCOMING), ("ApiFunction", UPLOADS), ("ApiFunction", OUTPUTS),
        ("ApiFunction", BATCHES),  # the items file of a batch refused after it was written
    }  # fmt: skip


def test_the_processor_writes_only_under_outputs():
    s3 = {
        (action, resource) for action, resource, _ in granted("ProcessorFunction") if action.startswith("s3:")
    }
    assert {resource for _, resource in s3} <= {OUTPUTS, BUCKET}
    assert not any(action in ("s3:DeleteObject", "s3:DeleteObjectVersion") for action, _ in s3)


def test_the_idempotency_table_gets_only_powertools_item_actions():
    for function in FUNCTIONS:
        actions = {
            a for a, resource, _ in granted(function) if resource.startswith(IDEMPOTENCY.split(".")[0])
        }
        if function == "ProcessorFunction":
            assert actions == {
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            }
        else:
            assert actions == set(), function
