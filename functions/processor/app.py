"""Events-queue consumer: one path for completions learned by webhook or by the reconciler.

Webhook events are checked against Leonardo's own record before anything changes (see Processor).

Duplicates are absorbed twice over: Powertools Idempotency keyed on the business event
(generation id + event type + status, not the SQS message id), and conditional job transitions.
"""

from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

# Every event runs the processing use case: its modules load here, at init, where Lambda gives the
# CPU burst (the first event has none); wiring.processor() still builds it and its clients on first use.
import gencore.domain.processing  # noqa: F401
from gencore import snapstart, wiring
from gencore.domain.errors import AlreadyRecovered, GenerationNotReady, UnknownGeneration
from gencore.domain.models import GenerationEvent
from gencore.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
UNKNOWN_GENERATION_METRIC = "UnknownGenerationCallbacks"  # alarmed: any datapoint > 0
IDEMPOTENCY_CONFIG = IdempotencyConfig(
    event_key_jmespath="[generation_id, event_type, status]", expires_after_seconds=24 * 3600
)


@cache
def _handle_once() -> Any:  # idempotent_function is untyped: so is what it returns
    persistence = DynamoDBPersistenceLayer(
        table_name=wiring.settings().idempotency_table, boto3_client=wiring.aws("dynamodb")
    )

    @idempotent_function(  # type: ignore[untyped-decorator]  # powertools leaves it unannotated
        data_keyword_argument="event", persistence_store=persistence, config=IDEMPOTENCY_CONFIG
    )
    def handle(event: dict[str, Any]) -> str:
        return wiring.processor().handle(GenerationEvent.model_validate(event))

    return handle


# SnapStart: the use case and its clients are built into the snapshot; fresh state after each restore.
snapstart.install(prime=lambda: (wiring.processor(), _handle_once()))


def process(record: SQSRecord) -> str:
    event = GenerationEvent.model_validate_json(record.body)  # malformed: retried, then the DLQ
    logger.append_keys(generation_id=event.generation_id, source=event.source)
    try:
        outcome: str = _handle_once()(event=event.model_dump(mode="json"))
    except UnknownGeneration:
        # A completion can overtake our own record of the generation (an adoption after a crash
        # waits for a lease); after the grace an unknown generation is dropped, never parked in the
        # DLQ: the reconciler covers our jobs. The grace is shorter than the queue's way to the DLQ.
        age = time.time() - int(record.attributes.sent_timestamp) / 1000
        if age < wiring.settings().unknown_generation_grace_seconds:
            raise  # our own submission may not be recorded yet: retry after the visibility timeout
        # Money spent on a generation no job owns (an orphan), or a foreign or forged callback:
        # either way an operator must hear of it (UnknownGenerationCallbacksAlarm, runbook).
        logger.warning(
            "callback for a generation no job owns: dropped",
            extra={"generation_id": event.generation_id, "status": event.status, "age_seconds": int(age)},
        )
        metrics.add_metric(name=UNKNOWN_GENERATION_METRIC, unit=MetricUnit.Count, value=1)
        return "unknown_generation_dropped"
    except GenerationNotReady:
        # A callback ahead of Leonardo's own record (or a forged one): the job stays due, and the
        # reconciler polls it. Nothing is kept under this event's idempotency key.
        outcome = "not_ready"
    except IdempotencyAlreadyInProgressError:
        # Another invocation is processing this same event right now: the message came back after
        # its visibility timeout while the first processing ran, or SQS delivered it twice. Nothing
        # is read or copied here; retried after the visibility timeout, the stored result answers
        # it. Expected of at-least-once delivery, so counted, not warned.
        metrics.add_metric(name="Process_in_progress_elsewhere", unit=MetricUnit.Count, value=1)
        receives = record.attributes.approximate_receive_count
        logger.info("event already being processed by another invocation; it will be retried",
                    extra={"receives": receives})  # fmt: skip
        raise
    except AlreadyRecovered:
        # Held in the queue past the job's first poll: the reconciler read Leonardo's record and
        # sent it as its own event, which finishes the job. Nothing is read again or kept here.
        outcome = "already_recovered"
    except Exception as error:
        # Retried after the visibility timeout, then the DLQ (alarmed): say why, every time.
        # The type and code only: an error's message could carry a Leonardo or AWS answer.
        details = {"error": type(error).__name__, "code": getattr(error, "code", None)}
        receives = record.attributes.approximate_receive_count
        logger.warning("event not processed; it will be retried", extra=details | {"receives": receives})
        raise
    metrics.add_metric(name=f"Process_{outcome}", unit=MetricUnit.Count, value=1)
    logger.info("processed", extra={"outcome": outcome})
    return outcome


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    IDEMPOTENCY_CONFIG.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=process, processor=processor, context=context)
