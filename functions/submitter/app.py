"""Submit-queue consumer: starts QUEUED jobs at Leonardo under the concurrency cap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ConfigDict, Field

# Every event runs the submit use case and builds its call with the recipes (the kinds' builders load
# them on first use): their modules load here, at init, where Lambda gives the CPU burst (the first
# event has none); wiring.submitter() still builds the use case and its clients on first use.
import gencore.domain.recipes
import gencore.domain.submit  # noqa: F401
from gencore import snapstart, wiring
from gencore.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# SnapStart: the use case and its clients are built into the snapshot; fresh state after each restore.
snapstart.install(prime=wiring.submitter)


class SubmitMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=1, max_length=64)
    attempt: int = Field(default=0, ge=0)
    token: int = Field(default=0, ge=0)


def submit(record: SQSRecord, lambda_context: Any = None) -> str:
    # A malformed message raises: it is retried, then parked in the DLQ where it can be inspected.
    message = SubmitMessage.model_validate_json(record.body)
    logger.append_keys(job_id=message.job_id)
    # A paid POST is started only with time for its worst case left: never killed mid-way.
    remaining = None
    if lambda_context is not None:
        remaining = lambda: lambda_context.get_remaining_time_in_millis() / 1000  # noqa: E731
    outcome, cost = wiring.submitter().submit(
        message.job_id, attempt=message.attempt, token=message.token, remaining=remaining
    )
    metrics.add_metric(name=f"Submit_{outcome}", unit=MetricUnit.Count, value=1)
    if cost is not None:  # one metric per unit: an account is billed in credits or in dollars
        name = "DollarsSpent" if cost.unit == "DOLLARS" else "CreditsSpent"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=float(cost.amount))
    logger.info("submit", extra={"outcome": outcome, "attempt": message.attempt})
    return outcome


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=submit, processor=processor, context=context)
