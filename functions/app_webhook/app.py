"""AppWebhookQueue consumer: completion events from the bus, fanned out and delivered to apps.

Two kinds of message share the queue: a bus event (the EventBridge rule's target: stored, then one
delivery per subscribed endpoint) and one delivery attempt ({"deliver": {...}}, re-enqueued with
the next delay after a failure). Per-record failures go back to the queue (partial batch response).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from gencore import outbound_webhooks
from gencore.domain.app_webhooks.records import DeliveryMessage
from gencore.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
DISABLED_METRIC = "AppWebhookEndpointDisabled"  # alarmed: any datapoint > 0


class NotEnoughTime(RuntimeError):
    """Too little of the invocation left for one more attempt: the record goes back to the queue."""


def handle(record: SQSRecord, lambda_context: Any = None) -> str:
    body = json.loads(record.body)  # malformed: retried, then the DLQ
    use_case = outbound_webhooks.app_webhooks()
    if "deliver" not in body:
        started = use_case.publish(body)
        logger.info("event fanned out", extra={"event_id": body["detail"]["event_id"], "deliveries": started})
        metrics.add_metric(name="AppWebhookEventsPublished", unit=MetricUnit.Count, value=1)
        return "published"
    message = DeliveryMessage.from_dict(body["deliver"])
    logger.append_keys(event_id=message.event_id, endpoint_id=message.endpoint_id)
    if lambda_context is not None:
        left = lambda_context.get_remaining_time_in_millis() / 1000
        if left < outbound_webhooks.worst_attempt_seconds():
            raise NotEnoughTime(f"{left:.0f} s left")  # unclaimed: whoever receives it next sends it
    outcome = use_case.deliver(message)
    metrics.add_metric(name=f"AppWebhook_{outcome.name}", unit=MetricUnit.Count, value=1)
    if outcome.disabled_endpoint:
        logger.warning("endpoint disabled after persistent failure", extra={"outcome": outcome.name})
        metrics.add_metric(name=DISABLED_METRIC, unit=MetricUnit.Count, value=1)
    logger.info(
        "delivery", extra={"outcome": outcome.name, "attempt": message.attempt, "round": message.round}
    )
    return outcome.name


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
