"""Leonardo's webhook callback, reduced to the facts we act on.

The published sample callback echoes key material (``data.object.apiKey`` with
``key`` and ``webhookCallbackApiKey``) and user ids, so the raw body must never
be stored, queued or logged. :func:`parse_callback` validates the envelope and
returns a :class:`CallbackEvent` built from an allow-list of fields; everything
else is dropped. Errors name the failing field, never its value.
"""

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .models import GeneratedImage, GenerationStatus


class CallbackError(ValueError):
    """A callback body we cannot trust. ``code`` is ``malformed_json`` or ``invalid_payload``."""

    def __init__(self, code: Literal["malformed_json", "invalid_payload"], message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Strict(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class _CallbackGeneration(_Strict):
    id: str = Field(min_length=1)
    status: GenerationStatus
    # Leonardo makes at most 8 images a generation; anything far beyond is not a real callback.
    images: list[GeneratedImage] = Field(default_factory=list, max_length=16)
    api_credit_cost: float | None = Field(default=None, alias="apiCreditCost")


class _CallbackData(_Strict):
    object: _CallbackGeneration


class _Envelope(_Strict):
    type: str = Field(min_length=1)
    object: Literal["generation"]
    timestamp: int
    api_version: str = Field(min_length=1)
    data: _CallbackData


class CallbackEvent(BaseModel):
    """The secret-free subset of a callback; safe to queue and log.

    ``timestamp`` is Leonardo's envelope time in epoch milliseconds.
    ``api_credit_cost`` comes from ``apiCreditCost`` when Leonardo sends it;
    the sample's ``apiDollarCost``/``tokenCost`` are other units and are not
    folded into it.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: str
    generation_id: str
    status: GenerationStatus
    images: list[GeneratedImage] = Field(default_factory=list)
    api_credit_cost: float | None = None
    timestamp: int

    def to_message(self) -> dict[str, Any]:
        """A JSON-safe dict (e.g. an SQS message body) that :meth:`from_message` reads back."""
        return self.model_dump(mode="json")

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> "CallbackEvent":
        return cls.model_validate(message)


def parse_callback(body: bytes) -> CallbackEvent:
    """Validate a raw callback body and keep only what :class:`CallbackEvent` allows."""
    try:
        raw = json.loads(body)
    except (ValueError, TypeError, RecursionError):  # RecursionError: nesting deeper than json allows
        raise CallbackError("malformed_json", "callback body is not valid JSON") from None
    try:
        envelope = _Envelope.model_validate(raw)
    except ValidationError as exc:
        # `from None` and no input values: pydantic's own message would quote the body.
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors()[:5])
        raise CallbackError("invalid_payload", f"callback body is invalid at: {fields}") from None
    generation = envelope.data.object
    return CallbackEvent(
        event_type=envelope.type,
        generation_id=generation.id,
        status=generation.status,
        images=[GeneratedImage(id=i.id, url=i.url, nsfw=i.nsfw) for i in generation.images],
        api_credit_cost=generation.api_credit_cost,
        timestamp=envelope.timestamp,
    )
