"""The runner reads the SAM template as CloudFormation would: intrinsics, conditions, Globals, events."""

from pathlib import Path

import pytest

from stackrunner.template import Physical, Template, TemplateError, load_yaml, rate_to_seconds
from tests.fixtures.stack.harness import FIXTURE_TEMPLATE

pytestmark = pytest.mark.integration

REAL_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def _with_physical_ids(template: Template) -> Template:
    template.physical.update(
        {
            "RecordsTable": Physical(
                "fx-records", {"Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/fx-records"}
            ),
            "WorkQueue": Physical("http://q/work", {"Arn": "arn:q:work", "QueueName": "fx-work"}),
            "FilesBucket": Physical("fx-files"),
            "ApiSecret": Physical("arn:secret:api"),
        }
    )
    return template


def test_short_tags_become_long_form_intrinsics():
    doc = load_yaml(FIXTURE_TEMPLATE)
    env = doc["Globals"]["Function"]["Environment"]["Variables"]
    assert env["RECORDS_TABLE"] == {"Ref": "RecordsTable"}
    assert env["WORK_QUEUE_NAME"] == {"Fn::GetAtt": ["WorkQueue", "QueueName"]}
    assert env["GREETING"] == {"Fn::Sub": "${Greeting}-${Stage}"}
    assert doc["Conditions"]["IsNotProd"] == {"Fn::Not": [{"Condition": "IsProd"}]}


def test_parameters_take_defaults_and_local_overrides():
    template = Template(FIXTURE_TEMPLATE, {"Greeting": "hi"})
    assert template.parameters["Greeting"] == "hi"
    assert template.parameters["Stage"] == "dev"
    assert template.parameters["JwtAudience"] == ["fixture-aud", "other-aud"]
    assert template.parameters["WorkTimeout"] == "7"  # Ref of a Number is a string


def test_unknown_or_disallowed_parameters_are_rejected():
    with pytest.raises(TemplateError):
        Template(FIXTURE_TEMPLATE, {"Nope": "x"})
    with pytest.raises(TemplateError):
        Template(FIXTURE_TEMPLATE, {"Stage": "qa"})


def test_conditions_follow_parameters():
    assert Template(FIXTURE_TEMPLATE).conditions == {"IsProd": False, "IsNotProd": True}
    prod = Template(FIXTURE_TEMPLATE, {"Stage": "prod"})
    assert prod.conditions["IsProd"] is True
    assert "ProdOnlyQueue" in prod.of_type("AWS::SQS::Queue")
    assert "ProdOnlyQueue" not in Template(FIXTURE_TEMPLATE).of_type("AWS::SQS::Queue")


def test_globals_merge_into_each_function_and_intrinsics_resolve_to_physical_ids():
    functions = _with_physical_ids(Template(FIXTURE_TEMPLATE)).functions()
    echo, consumer = functions["EchoFunction"], functions["ConsumerFunction"]
    assert (echo.timeout, echo.memory_size) == (5, 128)  # function values win over Globals
    assert (consumer.timeout, consumer.memory_size) == (7, 256)  # Ref to a Number parameter; Globals
    assert echo.environment["ECHO_ONLY"] == "1"  # function variables merge with the global ones
    assert "ECHO_ONLY" not in consumer.environment
    env = consumer.environment
    assert env["RECORDS_TABLE"] == "fx-records"
    assert env["WORK_QUEUE_URL"] == "http://q/work"
    assert env["WORK_QUEUE_NAME"] == "fx-work"
    assert env["FILES_BUCKET"] == "fx-files"
    assert env["API_SECRET"] == "arn:secret:api"
    assert env["GREETING"] == "hello-dev"
    assert env["MODE"] == "development"
    assert env["NOT_PROD"] == "yes"
    assert env["JOINED"] == "a:dev:other-aud"
    assert env["INDEX_ARN"] == "arn:aws:dynamodb:us-east-1:123456789012:table/fx-records/index/*"
    assert env["WHERE"] == "us-east-1/123456789012/${Literal}"
    assert env["AUDIENCES"] == "fixture-aud,other-aud"


def test_function_code_and_layers_come_from_the_template():
    echo = Template(FIXTURE_TEMPLATE).functions()["EchoFunction"]
    assert echo.module_path == FIXTURE_TEMPLATE.parent / "handlers" / "echo.py"
    assert echo.function_name == "handler"
    assert echo.layers == [FIXTURE_TEMPLATE.parent / "layer"]


def test_http_routes_carry_method_path_and_auth():
    routes = {r.event: r for r in Template(FIXTURE_TEMPLATE).http_routes()}
    assert routes["Open"].authorizer is None
    assert routes["Item"].authorizer == "Jwt"  # the API's DefaultAuthorizer
    assert routes["Item"].route_key == "GET /items/{id}"
    assert routes["Files"].method == "ANY"


def test_jwt_authorizer_config():
    (authorizer,) = Template(FIXTURE_TEMPLATE, {"JwtIssuer": "http://127.0.0.1:1"}).jwt_authorizers().values()
    assert authorizer.issuer == "http://127.0.0.1:1"
    assert authorizer.audience == ("fixture-aud", "other-aud")
    assert authorizer.identity_source == "$request.header.Authorization"


def test_sqs_event_sources():
    sources = {s.function: s for s in Template(FIXTURE_TEMPLATE).sqs_sources()}
    work = sources["ConsumerFunction"]
    assert (work.queue, work.batch_size, work.batching_window) == ("WorkQueue", 5, 1.0)
    assert work.report_batch_item_failures and work.max_concurrency == 3
    crash = sources["CrashFunction"]
    assert not crash.report_batch_item_failures and crash.max_concurrency == 2  # Lambda's default


def test_schedules_and_their_intervals():
    schedules = {s.event: s for s in Template(FIXTURE_TEMPLATE).schedules()}
    assert schedules["Often"].interval == 300 and schedules["Often"].enabled
    assert schedules["Nightly"].kind == "Schedule" and not schedules["Nightly"].enabled


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("cron(* * * * ? *)", 60),
        ("cron(0/15 * * * ? *)", 900),
        ("cron(0 */2 * * ? *)", 7200),
        ("cron(0 3 * * ? *)", 86400),
    ],
)
def test_schedule_expressions(expression, seconds):
    assert rate_to_seconds(expression) == seconds


def test_creation_order_puts_dead_letter_queues_first():
    order = Template(FIXTURE_TEMPLATE).creation_order()
    assert order.index("WorkDLQ") < order.index("WorkQueue")
    assert order.index("CrashDLQ") < order.index("CrashQueue")
    assert "ProdOnlyQueue" not in order


def test_the_real_template_parses_completely():
    template = Template(REAL_TEMPLATE)
    assert template.functions() and template.http_routes() and template.sqs_sources() and template.schedules()
    assert template.jwt_authorizers()
    order = template.creation_order()
    for queue in template.of_type("AWS::SQS::Queue"):
        for dep in template.dependencies(queue):
            assert order.index(dep) < order.index(queue)
