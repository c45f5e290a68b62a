"""An events message delivered again while its first processing still runs, to another execution
environment: the second delivery reads nothing, copies nothing and is retried; once the first has
finished, its stored result answers the retry. SQS delivers at least once, and a message also comes
back when its visibility timeout ends before the first processing does."""

from __future__ import annotations

import logging
import threading

import pytest

from leonardo_simulator import FaultConfig
from stackrunner.pollers import sqs_record
from stackrunner.runtime import FunctionRuntime
from tests.simulator.helpers import wait_for

from .test_generation_flow import PROMPT, callback_for, submit_one

pytestmark = pytest.mark.integration

EVENTS_ARN = "arn:aws:sqs:us-east-1:123456789012:EventsQueue"


def _log_of(pipeline, generation_id: str) -> dict:
    [entry] = [e for e in pipeline.stack.simulator.generation_log() if e["id"] == generation_id]
    return entry


def test_a_message_delivered_again_mid_processing_is_retried_and_read_once(pipeline, caplog):
    caplog.set_level(logging.INFO)
    item = submit_one(pipeline)
    generation_id = item["generation_id"]
    assert pipeline.webhook(callback_for(pipeline, generation_id))[0] == 202
    [message] = pipeline.receive("EventsQueue")
    other = FunctionRuntime(pipeline.stack.template.functions())  # a second execution environment
    other.handler("ProcessorFunction")  # cold-started before the race, not during it
    # The first processing is held in its output copy: Leonardo's CDN answers slowly.
    pipeline.stack.simulator.set_faults(FaultConfig(cdn_delay_seconds=5.0))
    first = threading.Thread(target=pipeline.deliver, args=("EventsQueue", "ProcessorFunction", [message]))
    first.start()
    try:
        wait_for(lambda: len(_log_of(pipeline, generation_id)["downloadedAt"]) >= 1, timeout=10)
        # When: the same message reaches the other environment while the first is still copying
        event = {"Records": [sqs_record(message, EVENTS_ARN)]}
        again = other.invoke("ProcessorFunction", event)
        # Then it is reported failed (retried by the queue), having read nothing from Leonardo
        assert again["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
        assert len(_log_of(pipeline, generation_id)["readAt"]) == 1
        [line] = [r for r in caplog.records if "already being processed" in r.getMessage()]
        assert line.levelno == logging.INFO
        first.join(timeout=30)
        assert not first.is_alive()
        assert pipeline.job_item(item["id"])["status"] == "COMPLETE"
        # And the retry, after the first processing, is answered from its stored result
        assert other.invoke("ProcessorFunction", event)["batchItemFailures"] == []
    finally:
        first.join(timeout=30)
        other.unload()
    entry = _log_of(pipeline, generation_id)
    assert len(entry["readAt"]) == 1
    assert len(entry["downloadedAt"]) == PROMPT["num_images"]  # each output copied once
    assert len(pipeline.outputs(f"outputs/{item['user_id']}/{item['id']}")) == PROMPT["num_images"]
