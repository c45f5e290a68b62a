"""What production operations rely on in the template: log groups with retention, the operations
dashboard on metrics the code really emits, and gradual deployments that roll back on alarms."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.template import load_template

pytestmark = pytest.mark.unit

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = {n: r for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
CODE = "\n".join(
    p.read_text() for p in [*Path("functions").rglob("*.py"), *Path("layers/core/gencore").rglob("*.py")]
)


def _log_groups() -> dict[str, dict]:
    return {n: r["Properties"] for n, r in RESOURCES.items() if r["Type"] == "AWS::Logs::LogGroup"}


def test_every_function_has_a_log_group_with_the_retention_parameter():
    named = {}
    for name, group in _log_groups().items():
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        match = re.fullmatch(r"/aws/lambda/\$\{(\w+)\}", group.get("LogGroupName", {}).get("Sub", ""))
        if match:
            named[match.group(1)] = name
    assert set(FUNCTIONS) <= set(named)


def test_log_retention_defaults_to_30_days():
    parameter = TEMPLATE["Parameters"]["LogRetentionDays"]
    assert parameter["Type"] == "Number" and parameter["Default"] == 30
    assert 30 in parameter["AllowedValues"]


def test_the_http_api_writes_an_access_log_without_headers_or_bodies():
    settings = RESOURCES["HttpApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"GetAtt": "HttpApiAccessLogGroup.Arn"}
    fields = json.loads(settings["Format"])
    assert {"requestId", "routeKey", "status"} <= set(fields)
    assert not any(
        word in value for value in fields.values() for word in ("header", "body", "querystring", "authorizer")
    )


def _dashboard() -> dict:
    body = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Sub"]
    # ${...} are CloudFormation's substitutions: a number for the cap, strings elsewhere
    return json.loads(re.sub(r"\$\{LeonardoMaxConcurrency\}", "10", body).replace("${", "{"))


def _dashboard_metrics() -> list[tuple[str, str]]:
    named = []
    for widget in _dashboard()["widgets"]:
        namespace = None
        for row in widget["properties"]["metrics"]:
            head = [item for item in row if isinstance(item, str)]
            if head[0] == "...":
                continue
            namespace = namespace if head[0] == "." else head[0]
            named.append((namespace, head[1]))
    return named


def test_the_dashboard_shows_what_operations_asked_for():
    titles = " | ".join(w["properties"]["title"].lower() for w in _dashboard()["widgets"])
    for topic in ("jobs by state", "complete", "slots", "credits", "dead-letter", "callbacks"):
        assert topic in titles, topic
    metrics = {name for _, name in _dashboard_metrics()}
    assert {"InFlightAtLeonardo", "JobCompletionSeconds", "CreditsSpent", "WebhookRejected"} <= metrics


def test_the_slot_widget_draws_the_concurrency_cap():
    body = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Sub"]
    assert '"value": ${LeonardoMaxConcurrency}' in body


@pytest.mark.parametrize(("namespace", "metric"), _dashboard_metrics())
def test_every_dashboard_metric_of_ours_is_emitted_by_the_code(namespace, metric):
    if namespace != "LeonardoBackend":
        return
    dynamic = {
        "JobsEnded_": 'f"JobsEnded_{status}"', "Submit_": 'f"Submit_{outcome}"',
        "Reconcile_": 'f"Reconcile_{outcome}"',
    }  # fmt: skip
    prefix = next((p for p in dynamic if metric.startswith(p)), None)
    assert (dynamic[prefix] if prefix else f'"{metric}"') in CODE, metric


@pytest.mark.parametrize("function", ["ApiFunction", "WebhookFunction"])
def test_the_api_and_webhook_shift_their_live_alias_gradually_and_roll_back_on_alarms(function):
    properties = FUNCTIONS[function]["Properties"]
    assert TEMPLATE["Globals"]["Function"]["AutoPublishAlias"] == "live"
    preference = properties["DeploymentPreference"]
    assert preference["Type"] == {"Ref": "DeploymentType"}
    assert preference.get("Enabled", True) is True
    alarms = preference["Alarms"]
    assert f"{function}RollbackErrorsAlarm" in alarms and "HttpApi5xxRollbackAlarm" in alarms
    errors = RESOURCES[f"{function}RollbackErrorsAlarm"]["Properties"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    dimensions = {d["Name"]: d["Value"] for d in errors["Dimensions"]}
    assert dimensions == {"FunctionName": {"Ref": function}, "Resource": {"Sub": f"${{{function}}}:live"}}
    assert errors["Threshold"] == 0 and errors["Period"] == 60


def test_the_default_deployment_is_a_canary():
    parameter = TEMPLATE["Parameters"]["DeploymentType"]
    assert parameter["Default"] == "Canary10Percent5Minutes"
    assert "AllAtOnce" in parameter["AllowedValues"]


def test_the_5xx_rollback_alarm_watches_the_stages_answers():
    alarm = RESOURCES["HttpApi5xxRollbackAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/ApiGateway", "5xx")
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dimensions == {"ApiId": {"Ref": "HttpApi"}, "Stage": {"Ref": "Stage"}}
    assert alarm["Threshold"] == {"Ref": "Rollback5xxPerMinute"}
