"""Secrets never reach logs, responses, queues or stored items, even when callbacks echo them."""

from __future__ import annotations

import io
import json
import logging

import pytest

from .conftest import LEONARDO_KEY, WEBHOOK_KEY
from .test_generation_flow import PROMPT, callback_for, submit_one

pytestmark = pytest.mark.integration


def _capture_logs(monkeypatch) -> io.StringIO:
    """Point the Powertools JSON log handlers (service logger and gencore) at a buffer."""
    buffer = io.StringIO()
    for name in ("leonardo-backend", "gencore"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                monkeypatch.setattr(handler, "stream", buffer)
    return buffer


def test_a_full_run_leaks_neither_key(pipeline, capfd, monkeypatch):
    logs = _capture_logs(monkeypatch)
    answers = []
    item = submit_one(pipeline)
    callback = callback_for(pipeline, item["generation_id"])
    # As in Leonardo's published sample, the callback echoes the API key and the webhook key.
    callback["data"]["object"]["apiKey"] |= {"key": LEONARDO_KEY, "webhookCallbackApiKey": WEBHOOK_KEY}
    answers.append(pipeline.webhook(callback))
    answers.append(pipeline.webhook(callback, token="wrong-token"))
    answers.append(pipeline.webhook("{broken", token=WEBHOOK_KEY))
    pipeline.drain("EventsQueue", "ProcessorFunction")
    answers.append(pipeline.api("GET", f"/v1/generations/{item['id']}"))
    answers.append(pipeline.api("POST", "/v1/generations", body=PROMPT | {"width": 3}))

    stored = pipeline.ddb.scan(TableName=pipeline.stack.env["JOBS_TABLE"])["Items"]
    stored += pipeline.ddb.scan(TableName=pipeline.stack.env["IDEMPOTENCY_TABLE"])["Items"]
    captured = capfd.readouterr()
    haystacks = {
        "logs": logs.getvalue() + captured.out + captured.err,
        "responses": json.dumps(answers),
        "stored items": json.dumps(stored),
    }
    assert "COMPLETE" in haystacks["responses"]
    assert '"level"' in haystacks["logs"]  # the handlers did log (JSON lines)
    for where, text in haystacks.items():
        for secret in (LEONARDO_KEY, WEBHOOK_KEY):
            assert secret not in text, f"a key leaked into {where}"
        assert "webhookCallbackApiKey" not in text, f"a raw callback body reached {where}"
