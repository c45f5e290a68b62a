"""Leonardo's webhook callback, reduced to the facts we act on.

The published sample callback echoes key material (``data.object.apiKey`` with
``key`` and ``webhookCallbackApiKey``) and user ids, so the raw body must never
be stored, queued or logged. :func:`parse_callback` validates the envelope and
returns a :class:`CallbackEvent` built from an allow-list of fields; everything
else is dropped. Errors name the failing field, never its value.

Written against the standard library alone (no pydantic): the webhook function
imports this at its cold start, and its acknowledgement must stay fast
(docs/performance.md, cold starts).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

STATUSES = ("PENDING", "COMPLETE", "FAILED")
MAX_IMAGES = 16  # Leonardo makes at most 8 images a generation; far beyond is not a real callback


class CallbackError(ValueError):
    """A callback body we cannot trust. ``code`` is ``malformed_json`` or ``invalid_payload``."""

    def __init__(self, code: Literal["malformed_json", "invalid_payload"], message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CallbackImage:
    id: str
    url: str
    nsfw: bool


@dataclass(frozen=True)
class CallbackEvent:
    """The secret-free subset of a callback; safe to queue and log.

    ``timestamp`` is Leonardo's envelope time in epoch milliseconds.
    ``api_credit_cost`` comes from ``apiCreditCost`` when Leonardo sends it;
    the sample's ``apiDollarCost``/``tokenCost`` are other units and are not
    folded into it.
    """

    event_type: str
    generation_id: str
    status: str
    timestamp: int
    images: list[CallbackImage] = field(default_factory=list)
    api_credit_cost: float | None = None

    def to_message(self) -> dict[str, Any]:
        """A JSON-safe dict (e.g. an SQS message body) that :meth:`from_message` reads back."""
        return asdict(self)

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> CallbackEvent:
        images = [CallbackImage(**image) for image in message.get("images", [])]
        return cls(**{**message, "images": images})


def _invalid(*locations: str) -> CallbackError:
    return CallbackError("invalid_payload", f"callback body is invalid at: {', '.join(locations)}")


def _text(node: dict[str, Any], name: str, at: str) -> str:
    value = node.get(name)
    if not isinstance(value, str) or not value:
        raise _invalid(f"{at}{name}")
    return value


def _image(item: Any, at: str) -> CallbackImage:
    if not isinstance(item, dict):
        raise _invalid(at)
    nsfw = item.get("nsfw")
    if not isinstance(nsfw, bool):
        raise _invalid(f"{at}.nsfw")
    return CallbackImage(id=_text(item, "id", f"{at}."), url=_text(item, "url", f"{at}."), nsfw=nsfw)


def parse_callback(body: bytes) -> CallbackEvent:
    """Validate a raw callback body and keep only what :class:`CallbackEvent` allows."""
    try:
        raw = json.loads(body)
    except (ValueError, TypeError, RecursionError):  # RecursionError: nesting deeper than json allows
        raise CallbackError("malformed_json", "callback body is not valid JSON") from None
    if not isinstance(raw, dict):
        raise _invalid("<root>")
    event_type = _text(raw, "type", "")
    if raw.get("object") != "generation":
        raise _invalid("object")
    timestamp = raw.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise _invalid("timestamp")
    _text(raw, "api_version", "")
    data = raw.get("data")
    generation = data.get("object") if isinstance(data, dict) else None
    if not isinstance(generation, dict):
        raise _invalid("data.object" if isinstance(data, dict) else "data")
    generation_id = _text(generation, "id", "data.object.")
    status = generation.get("status")
    if status not in STATUSES:
        raise _invalid("data.object.status")
    images = generation.get("images", [])
    if not isinstance(images, list) or len(images) > MAX_IMAGES:
        raise _invalid("data.object.images")
    cost = generation.get("apiCreditCost")
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float)):
        raise _invalid("data.object.apiCreditCost")
    return CallbackEvent(
        event_type=event_type,
        generation_id=generation_id,
        status=status,
        timestamp=timestamp,
        images=[_image(item, f"data.object.images.{n}") for n, item in enumerate(images)],
        api_credit_cost=float(cost) if cost is not None else None,
    )
