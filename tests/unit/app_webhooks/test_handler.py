"""AppWebhookFunction's handler: bus events are fanned out, delivery messages delivered."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.unit


def test_the_handler_fans_out_bus_events_and_delivers_delivery_messages(monkeypatch):
    # Given the sample batch (events/app-webhook-sqs.json): one bus event, one delivery message
    import importlib.util
    from pathlib import Path

    from gencore import outbound_webhooks
    from gencore.domain.app_webhooks.records import Outcome

    spec = importlib.util.spec_from_file_location("app_webhook_app", Path("functions/app_webhook/app.py"))
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    calls = []

    class UseCase:
        def publish(self, envelope):
            calls.append(("publish", envelope["detail"]["event_id"]))
            return 1

        def deliver(self, message):
            calls.append(("deliver", message.attempt))
            return Outcome("disabled", disabled_endpoint=message.endpoint_id)

    monkeypatch.setenv("APP_WEBHOOK_QUEUE_URL", "https://sqs.example/q")
    outbound_webhooks.settings.cache_clear()
    monkeypatch.setattr(outbound_webhooks, "app_webhooks", lambda: UseCase())
    event = json.loads(Path("events/app-webhook-sqs.json").read_text())

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "AppWebhookFunction", 512, "r1"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:AppWebhookFunction"

        def get_remaining_time_in_millis(self):
            return 60_000

    # When the handler runs it
    response = app.lambda_handler(event, Context())
    outbound_webhooks.settings.cache_clear()
    # Then both records succeeded, each through its own use
    assert response == {"batchItemFailures": []}
    assert calls == [("publish", "9f1c2d3e-4b5a-6789-abcd-ef0123456789:COMPLETE"), ("deliver", 2)]
