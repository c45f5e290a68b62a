"""The domain's Leonardo port over the typed client: maps our request and its errors."""

from __future__ import annotations

import logging
from collections.abc import Callable

from gencore.domain.errors import GenerationMissing, LeonardoBusy, LeonardoRejected
from gencore.domain.models import LeonardoImage
from gencore.domain.ports import RemoteGeneration
from gencore.leonardo import (
    AuthError,
    LeonardoClient,
    LeonardoError,
    NotFoundError,
    OutcomeUnknownError,
    PermanentError,
    RetryableError,
)
from gencore.leonardo.models import GenerationRequest

log = logging.getLogger(__name__)


def to_leonardo_request(request: dict) -> GenerationRequest:
    """Our normalized text-to-image request -> Leonardo's wire model (its mixed field names)."""
    return GenerationRequest(
        prompt=request["prompt"],
        negative_prompt=request.get("negative_prompt"),
        model_id=request.get("model_id"),
        width=request.get("width"),
        height=request.get("height"),
        num_images=request.get("num_images"),
        seed=request.get("seed"),
        preset_style=request.get("preset_style"),
        alchemy=request.get("alchemy"),
        photo_real=request.get("photo_real"),
        guidance_scale=request.get("guidance_scale"),
        num_inference_steps=request.get("num_inference_steps"),
        public=False,  # outputs of our users never go to Leonardo's community feed
    )


class LeonardoGateway:
    def __init__(self, client_factory: Callable[[], LeonardoClient]) -> None:
        # Built on first use: the API key is fetched from Secrets Manager only when needed.
        self._factory = client_factory
        self._client: LeonardoClient | None = None

    @property
    def client(self) -> LeonardoClient:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def start_generation(self, request: dict) -> tuple[str, float | None]:
        try:
            job = self.client.create_generation(to_leonardo_request(request))
        except (RetryableError, OutcomeUnknownError) as error:
            if isinstance(error, OutcomeUnknownError):
                # The request may have reached Leonardo; retrying can cost a second generation.
                log.warning("generation submit outcome unknown; retrying later", extra={"code": error.code})
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error
        except AuthError as error:
            # Our key is wrong or revoked: an operator problem, not the user's. Keep the job waiting.
            log.error("Leonardo rejected our API key", extra={"code": error.code})
            raise LeonardoBusy("Leonardo authentication failed") from error
        except PermanentError as error:
            raise LeonardoRejected(_reason(error), code=error.code) from error
        except LeonardoError as error:  # a 2xx we cannot read: the generation may exist
            log.warning("unreadable submit answer; retrying later", extra={"code": error.code})
            raise LeonardoBusy(error.message) from error
        return job.generation_id, job.api_credit_cost

    def generation(self, generation_id: str) -> RemoteGeneration:
        try:
            generation = self.client.get_generation(generation_id)
        except NotFoundError as error:
            raise GenerationMissing(error.message) from error
        except LeonardoError as error:
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error
        return RemoteGeneration(
            status=generation.status,
            images=[LeonardoImage(id=i.id, url=i.url, nsfw=i.nsfw) for i in generation.generated_images],
        )


def _reason(error: LeonardoError) -> str:
    """Leonardo's own explanation when it gave one (error bodies carry no secrets), else ours."""
    body = error.body
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            if isinstance(body.get(key), str):
                return body[key][:500]
    return error.message
