"""The template's alarms, read as a specification: every failure an operator must hear about has one."""

from pathlib import Path

import pytest

from stackrunner.template import load_yaml

pytestmark = pytest.mark.unit

TEMPLATE = load_yaml(Path("template.yaml"))
RESOURCES = TEMPLATE["Resources"]
ENVIRONMENT = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]


def _of_type(kind):
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


ALARMS = {name: r["Properties"] for name, r in _of_type("AWS::CloudWatch::Alarm").items()}


def _dimension(props, name):
    return next((d["Value"] for d in props.get("Dimensions", []) if d["Name"] == name), None)


def _single_metric_alarms(namespace, metric):
    return [p for p in ALARMS.values() if p.get("Namespace") == namespace and p.get("MetricName") == metric]


def _app_metric_alarm(metric):
    """An alarm on one of our own (Powertools EMF) metrics, matching what the functions emit."""
    matches = _single_metric_alarms(ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"], metric)
    assert len(matches) == 1, metric
    alarm = matches[0]
    # Powertools adds the service dimension by default; an alarm without it would never see data.
    assert _dimension(alarm, "service") == ENVIRONMENT["POWERTOOLS_SERVICE_NAME"]
    return alarm


def test_every_dead_letter_queue_has_a_depth_alarm_at_the_first_message():
    # Given the queues that other queues redrive into
    dlqs = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in _of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in q.get("Properties", {})
    }
    assert {"SubmitDLQ", "EventsDLQ", "AppWebhookDLQ"} <= dlqs
    # Then each one has an alarm on visible messages > 0
    depth = _single_metric_alarms("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    watched = {_dimension(a, "QueueName")["Fn::GetAtt"][0] for a in depth}
    assert dlqs <= watched
    for alarm in depth:
        assert alarm["Threshold"] == 0
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_every_work_queue_has_an_oldest_message_age_alarm():
    work = {n for n, q in _of_type("AWS::SQS::Queue").items() if "RedrivePolicy" in q.get("Properties", {})}
    age = _single_metric_alarms("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert work <= {_dimension(a, "QueueName")["Fn::GetAtt"][0] for a in age}


def _error_alarm_functions():
    """Functions watched by an Errors alarm, plain or through Errors / Invocations metric math."""
    watched = {}
    for name, alarm in ALARMS.items():
        if any(d["Name"] == "Resource" for d in alarm.get("Dimensions", [])):
            continue  # a deployment's rollback alarm (the `live` alias's errors), not the function's own
        stats = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
        if not stats and alarm.get("Namespace") == "AWS/Lambda":
            stats = [alarm]
        errors = [m for m in stats if m.get("Namespace") == "AWS/Lambda" and m["MetricName"] == "Errors"]
        for metric in errors:
            watched[_dimension(metric, "FunctionName")["Ref"]] = name
    return watched


def test_every_function_has_an_error_alarm():
    functions = set(_of_type("AWS::Serverless::Function"))
    assert functions
    assert functions <= set(_error_alarm_functions())


def test_error_rate_alarms_divide_errors_by_invocations_of_the_same_function():
    for function, name in _error_alarm_functions().items():
        metrics = ALARMS[name].get("Metrics")
        if metrics is None:
            continue
        returned = [m for m in metrics if m.get("ReturnData")]
        assert len(returned) == 1, name
        by_id = {m["Id"]: m["MetricStat"]["Metric"] for m in metrics if "MetricStat" in m}
        for metric_id in ("errors", "invocations"):
            assert metric_id in returned[0]["Expression"], name
            assert _dimension(by_id[metric_id], "FunctionName") == {"Ref": function}, name


def test_stuck_jobs_alarm_fires_on_the_first_reconciler_timeout():
    # The reconciler emits Reconcile_<outcome>; "timed_out" is a job failed after MaxJobAgeSeconds.
    reconciler = Path("functions/reconciler/app.py").read_text()
    assert 'name=f"Reconcile_{outcome}"' in reconciler
    alarm = _app_metric_alarm("Reconcile_timed_out")
    assert alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(
    ("metric", "parameter", "default"),
    [("CreditsSpent", "CreditSpendAlarmThreshold", 5000), ("DollarsSpent", "DollarSpendAlarmThreshold", 50)],
)
def test_spend_alarms_sum_an_hour_against_a_parameter_per_unit(metric, parameter, default):
    # An account is billed in credits or in dollars; each unit has its metric and its alarm.
    alarm = _app_metric_alarm(metric)
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 3600
    assert alarm["Threshold"] == {"Ref": parameter}
    assert TEMPLATE["Parameters"][parameter]["Default"] == default
    assert f'"{metric}"' in Path("functions/submitter/app.py").read_text()


# --- issue 12: money ---------------------------------------------------------------------------------


def _runbook_has(anchor: str) -> bool:
    return anchor[1:].replace("-", " ") in {
        line[3:].lower() for line in RUNBOOK.splitlines() if line.startswith("## ")
    }


def test_the_spend_anomaly_alarm_watches_what_jobs_settle_in_the_billing_unit():
    from gencore.spend_log import unit_prefix

    alarm = ALARMS["SpendAnomalyAlarm"]
    queries = {m["Id"]: m for m in alarm["Metrics"]}
    metric = queries["spend"]["MetricStat"]["Metric"]
    # The metric the job store's observer emits, in the unit the deployment is billed in...
    assert TEMPLATE["Conditions"]["BilledInDollars"] == {"Fn::Equals": [{"Ref": "BillingUnit"}, "DOLLARS"]}
    assert metric["MetricName"] == {
        "Fn::If": ["BilledInDollars", unit_prefix("DOLLARS") + "Settled", unit_prefix("CREDITS") + "Settled"]
    }
    assert metric["Namespace"] == ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"]
    assert _dimension(metric, "service") == ENVIRONMENT["POWERTOOLS_SERVICE_NAME"]
    assert queries["spend"]["MetricStat"]["Stat"] == "Sum"
    # ...against the band it usually keeps, alarmed only above it (less spend is no alarm).
    assert queries["band"]["Expression"].startswith("ANOMALY_DETECTION_BAND(spend")
    assert alarm["ThresholdMetricId"] == "band"
    assert alarm["ComparisonOperator"] == "GreaterThanUpperThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert "docs/runbook.md#credit-spend-spike" in alarm["AlarmDescription"]


def test_a_low_account_balance_alarms_below_a_parameter_in_the_billing_unit():
    reconciler = Path("functions/reconciler/app.py").read_text()
    assert 'name="AccountBalance"' in reconciler
    alarm = _app_metric_alarm("AccountBalance")
    assert alarm["Statistic"] == "Minimum" and alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == {
        "Fn::If": [
            "BilledInDollars",
            {"Ref": "DollarBalanceAlarmThreshold"},
            {"Ref": "CreditBalanceAlarmThreshold"},
        ]
    }
    # The balance is read every AccountBalanceCheckSeconds: each period the alarm looks at has a reading.
    check = TEMPLATE["Parameters"]["AccountBalanceCheckSeconds"]
    assert check["MaxValue"] <= alarm["Period"] / 2
    variables = RESOURCES["ReconcilerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["ACCOUNT_BALANCE_EVERY_SECONDS"] == {"Ref": "AccountBalanceCheckSeconds"}
    assert alarm["TreatMissingData"] == "ignore"  # no reading neither raises nor clears it
    assert "docs/runbook.md#account-balance-low" in alarm["AlarmDescription"]
    assert _runbook_has("#account-balance-low")


def test_one_user_refused_for_their_budget_repeatedly_alarms_above_a_parameter():
    import json

    from gencore.spend_log import BUDGET_REFUSED

    # The API counts and logs each 402 budget_exceeded under the user's pseudonym...
    assert "report_budget_refusal(" in Path("functions/api/app.py").read_text()
    # ...Contributor Insights counts those lines per pseudonym in the API's log group...
    rule = RESOURCES["BudgetRefusalsRule"]["Properties"]
    body = json.loads(rule["RuleBody"]["Fn::Sub"])
    assert body["LogGroupNames"] == ["/aws/lambda/${ApiFunction}"] and body["LogFormat"] == "JSON"
    assert body["Contribution"] == {
        "Keys": ["$.user"], "Filters": [{"Match": "$.message", "In": [BUDGET_REFUSED]}]
    }  # fmt: skip
    assert body["AggregateOn"] == "Count" and rule["RuleState"] == "ENABLED"
    # ...and the alarm fires when the top one is above the threshold in an hour.
    alarm = ALARMS["RepeatedBudgetRefusalsAlarm"]
    [query] = alarm["Metrics"]
    assert query["Expression"] == {
        "Fn::Sub": "INSIGHT_RULE_METRIC('${BudgetRefusalsRule.RuleName}', 'MaxContributorValue')"
    }
    assert query["Period"] == 3600 and query["ReturnData"] is True
    assert alarm["Threshold"] == {"Ref": "BudgetRefusalAlarmThreshold"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert "docs/runbook.md#repeated-budget-refusals" in alarm["AlarmDescription"]
    assert _runbook_has("#repeated-budget-refusals")


def test_alarms_notify_the_topic_only_when_an_email_is_set():
    assert TEMPLATE["Parameters"]["AlarmEmail"]["Default"] == ""
    assert RESOURCES["AlarmTopic"]["Condition"] == "HasAlarmEmail"
    assert RESOURCES["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"
    conditional_topic = {"Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]}
    assert ALARMS
    for name, alarm in ALARMS.items():
        assert alarm["AlarmActions"] == conditional_topic, name
        assert alarm.get("AlarmDescription"), name


# --- issue 9: never stuck silently -----------------------------------------------------------------

RUNBOOK = Path("docs/runbook.md").read_text()


def _fires_on_the_first_datapoint(alarm, statistic="Sum"):
    assert alarm["Statistic"] == statistic
    assert alarm["Period"] == 300 and alarm["EvaluationPeriods"] == 1
    assert alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(
    ("metric", "function", "anchor", "statistic"),
    [
        ("UnknownGenerationCallbacks", "processor", "#unknown-generation-callbacks", "Sum"),
        ("OrphanGenerations", "reconciler", "#orphan-generations", "Sum"),
        ("LeonardoAccountBlocked", "reconciler", "#leonardo-account-blocked", "Maximum"),
    ],
)
def test_the_account_watch_metrics_are_emitted_alarmed_and_explained(metric, function, anchor, statistic):
    # The function emits the metric under exactly this name...
    source = Path(f"functions/{function}/app.py").read_text()
    assert f'"{metric}"' in source, metric
    # ...an alarm fires on its first datapoint above zero in five minutes...
    alarm = _app_metric_alarm(metric)
    _fires_on_the_first_datapoint(alarm, statistic)
    # ...and its description points at a runbook section that exists.
    assert f"docs/runbook.md{anchor}" in alarm["AlarmDescription"]
    headings = {line[3:].lower() for line in RUNBOOK.splitlines() if line.startswith("## ")}
    assert anchor[1:].replace("-", " ") in headings


def test_the_runbook_lists_every_alarm():
    for name in ALARMS:
        # The error rate alarms are listed once, as `<Function>ErrorRateAlarm`.
        assert name in RUNBOOK or name.endswith("FunctionErrorRateAlarm"), name


def test_a_disabled_app_webhook_endpoint_alarms_at_the_first_one():
    # The delivery function counts AppWebhookEndpointDisabled each time it gives an endpoint up.
    assert (
        'DISABLED_METRIC = "AppWebhookEndpointDisabled"' in Path("functions/app_webhook/app.py").read_text()
    )
    alarm = _app_metric_alarm("AppWebhookEndpointDisabled")
    assert alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_a_realtime_call_settled_by_the_sweep_alarms_at_the_first_one():
    # The reconciler counts each sweep outcome as LostRealtimeCalls_<outcome>; `settled` is a call
    # whose invocation died between Leonardo's answer and the ledger, charged at its estimate.
    source = Path("functions/reconciler/app.py").read_text()
    assert 'name=f"LostRealtimeCalls_{name}"' in source
    assert '"settled"' in Path("layers/core/gencore/domain/call_sweep.py").read_text()
    alarm = _app_metric_alarm("LostRealtimeCalls_settled")
    _fires_on_the_first_datapoint(alarm)
    assert "docs/runbook.md#lost-realtime-calls" in alarm["AlarmDescription"]
    assert "## Lost realtime calls" in RUNBOOK
