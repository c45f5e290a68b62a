"""Leonardo's callback: verify the bearer token, enqueue a secret-free event, acknowledge fast.

No job lookups and no downloads here: the processor does the work, so Leonardo never waits on us.
The one route is matched by hand (no Event Handler): this function's cold start is the one
Leonardo waits on (gencore/webhook_intake.py says why).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gencore.observability import MetricUnit, logger, metrics
from gencore.webhook_intake import intake

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

ROUTE = ("POST", "/webhooks/leonardo")
METRIC = {"accepted": "WebhookAccepted", "rejected": "WebhookRejected", "forbidden": "WebhookForbiddenSource"}


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    http = event.get("requestContext", {}).get("http", {})
    if (http.get("method"), http.get("path") or event.get("rawPath")) != ROUTE:
        return _response(404, {"error": {"code": "not_found", "message": "No such route"}})
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    answer = intake().handle(
        headers.get("authorization"),
        event.get("body"),
        base64_encoded=bool(event.get("isBase64Encoded")),
        source_ip=http.get("sourceIp"),
    )
    if answer.generation_id:
        logger.append_keys(generation_id=answer.generation_id)
    if answer.outcome == "unavailable":
        logger.error("webhook key unavailable; rejecting callbacks")  # fail closed
    if answer.outcome in METRIC:
        metrics.add_metric(name=METRIC[answer.outcome], unit=MetricUnit.Count, value=1)
    return _response(answer.status, answer.body)
