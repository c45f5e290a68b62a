"""Leonardo's callback: verify the bearer token, enqueue a secret-free event, acknowledge fast.

No job lookups and no downloads here: the processor does the work, so Leonardo never waits on us.
"""

from __future__ import annotations

import base64
import hmac

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import ValidationError

from gencore import wiring
from gencore.adapters.secrets import SecretMissing
from gencore.domain.models import GenerationEvent
from gencore.leonardo.callbacks import CallbackError, parse_callback
from gencore.observability import MetricUnit, logger, metrics
from gencore.views import error_body, json_response

app = APIGatewayHttpResolver()


def _authorized(header: str | None, expected: str) -> bool:
    scheme, _, token = (header or "").partition(" ")
    # Both sides as bytes so compare_digest stays constant-time for any input.
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


@app.post("/webhooks/leonardo")
def leonardo_callback() -> Response:
    event = app.current_event
    try:
        expected = wiring.webhook_key()
    except SecretMissing:
        logger.error("webhook key unavailable; rejecting callbacks")  # fail closed
        return json_response(503, error_body("webhook_unavailable", "Webhook verification is unavailable"))
    if not _authorized(event.headers.get("authorization"), expected):
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
        return json_response(401, error_body("unauthorized", "Missing or invalid bearer token"))
    # The raw bytes: Powertools' decoded_body would UTF-8-decode a base64 body and raise (a 500) on
    # bytes that are not UTF-8; parse_callback answers those as malformed JSON.
    body = event.body or ""
    raw = base64.b64decode(body) if event.is_base64_encoded else body.encode()
    if len(raw) > wiring.settings().webhook_max_body_bytes:
        return json_response(413, error_body("payload_too_large", "The callback body is too large"))
    try:
        callback = parse_callback(raw)
    except CallbackError as error:
        return json_response(400, error_body(error.code, error.message))
    logger.append_keys(generation_id=callback.generation_id)
    if callback.status == "PENDING":
        return json_response(202, {"status": "ignored"})  # nothing to do until it is terminal
    try:
        # Only what names the event: the processor takes status, outputs and cost from Leonardo's
        # own record, never from a callback (whose sender is proven only by the shared key).
        generation_event = GenerationEvent(
            source="webhook",
            event_type=callback.event_type,
            generation_id=callback.generation_id,
            status=callback.status,
        )
    except ValidationError:
        return json_response(
            400, error_body("invalid_payload", "The callback is outside the accepted limits")
        )
    wiring.event_queue().send(generation_event)
    metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)
    return json_response(202, {"status": "accepted"})


@app.not_found
def not_found(_error: Exception) -> Response:
    return json_response(404, error_body("not_found", "No such route"))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
