"""Batch-queue consumer: makes a batch's jobs from its items file (checkpointed, resumable), and
cancels or expires a batch's waiting items (domain/fanout.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ConfigDict, Field

from gencore import wiring
from gencore.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class BatchMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: str = Field(min_length=1, max_length=64)
    action: Literal["fan_out", "cancel", "expire"] = "fan_out"


def handle(record: SQSRecord, lambda_context: Any = None) -> str:
    # A malformed message raises: it is retried, then parked in the DLQ where it can be inspected.
    message = BatchMessage.model_validate_json(record.body)
    logger.append_keys(batch_id=message.batch_id)
    remaining = None
    if lambda_context is not None:
        remaining = lambda: lambda_context.get_remaining_time_in_millis() / 1000  # noqa: E731
    outcome = wiring.batch_worker().handle(message.batch_id, message.action, remaining=remaining)
    metrics.add_metric(name=f"Batch_{message.action}_{outcome}", unit=MetricUnit.Count, value=1)
    logger.info("batch work", extra={"action": message.action, "outcome": outcome})
    return outcome


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
