"""The template's wiring of outbound webhooks: the bus rule, the queue and the delivery function."""

from __future__ import annotations

import json

import pytest

from gencore.domain.app_webhooks.bus_events import EVENT_TYPES

pytestmark = pytest.mark.unit


def test_the_bus_rule_sends_our_completion_types_to_the_delivery_queue_and_only_it_may():
    from tests.support.template import load_template

    resources = load_template()["Resources"]
    rule = resources["AppWebhookRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "EventBus"}
    assert rule["EventPattern"] == {"source": ["leonardo-backend"], "detail-type": list(EVENT_TYPES)}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"GetAtt": "AppWebhookQueue.Arn"}
    assert target["DeadLetterConfig"] == {"Arn": {"GetAtt": "AppWebhookDLQ.Arn"}}
    (statement,) = resources["AppWebhookQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"GetAtt": "AppWebhookRule.Arn"}}}
    # The delivery function polls that queue, reporting failures per record
    source = resources["AppWebhookFunction"]["Properties"]["Events"]["Deliveries"]["Properties"]
    assert source["Queue"] == {"GetAtt": "AppWebhookQueue.Arn"}
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = resources["AppWebhookQueue"]["Properties"]
    timeout = resources["AppWebhookFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"GetAtt": "AppWebhookDLQ.Arn"}
    # And nothing in the template lets loopback through: only the local stack sets it
    assert "APP_WEBHOOKS_ALLOW_LOOPBACK" not in json.dumps(load_template())
