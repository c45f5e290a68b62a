"""The domain's Leonardo port over the typed client: maps our request and its errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from gencore.domain.errors import GenerationMissing, LeonardoBusy, LeonardoRejected, SubmitOutcomeUnknown
from gencore.domain.models import EXTENSIONS, LeonardoImage
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
RECENT_WINDOW = 50  # generations to look through when matching an unanswered submit
CLOCK_SKEW = timedelta(seconds=30)


def to_leonardo_request(request: dict, init_image_id: str | None = None) -> GenerationRequest:
    """Our normalized request -> Leonardo's wire model (its mixed field names)."""
    return GenerationRequest(
        init_image_id=init_image_id,
        init_strength=request.get("init_strength") if init_image_id else None,
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
        self._user_id: str | None = None

    @property
    def client(self) -> LeonardoClient:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def start_generation(
        self, request: dict, *, init_image_id: str | None = None
    ) -> tuple[str, float | None]:
        try:
            job = self.client.create_generation(to_leonardo_request(request, init_image_id))
        except OutcomeUnknownError as error:
            raise SubmitOutcomeUnknown(error.message) from error
        except RetryableError as error:
            raise LeonardoBusy(error.message, retry_after=error.retry_after) from error
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

    def upload_init_image(self, content: bytes, content_type: str) -> str:
        """Ask Leonardo for an upload slot and send the file there (no Leonardo key on that request)."""
        try:
            upload = self.client.upload_init_image(EXTENSIONS[content_type])
            self.client.send_init_image(upload, content, content_type)
        except (RetryableError, AuthError) as error:
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error
        except PermanentError as error:
            raise LeonardoRejected(_reason(error), code="init_image_rejected") from error
        except LeonardoError as error:
            raise LeonardoBusy(error.message) from error
        return upload.id

    def delete_init_image(self, init_image_id: str) -> None:
        try:
            self.client.delete_init_image(init_image_id)
        except NotFoundError:
            return  # already gone: what we wanted
        except LeonardoError as error:  # busy, down, or refusing: our side is done; try again later
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error

    def find_generation(self, request: dict, *, since: datetime) -> str | None:
        """Our account's generation matching `request` created since `since`, from the recent list.

        Leonardo has no idempotency key; an unanswered submit is matched on what it was asked for.
        """
        try:
            if self._user_id is None:
                self._user_id = self.client.me().user_id
            recent = self.client.list_user_generations(self._user_id, offset=0, limit=RECENT_WINDOW)
        except LeonardoError as error:
            raise LeonardoBusy(error.message) from error
        wanted = to_leonardo_request(request)
        earliest = since - CLOCK_SKEW
        matches = [
            g
            for g in recent
            if g.prompt == wanted.prompt
            and (g.image_width, g.image_height) == (wanted.width, wanted.height)
            and _parse_time(g.created_at) >= earliest
        ]
        return min(matches, key=lambda g: g.created_at).id if matches else None

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


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # Hasura omits the zone at times


def _reason(error: LeonardoError) -> str:
    """Leonardo's own explanation when it gave one (error bodies carry no secrets), else ours."""
    body = error.body
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            if isinstance(body.get(key), str):
                return body[key][:500]
    return error.message
