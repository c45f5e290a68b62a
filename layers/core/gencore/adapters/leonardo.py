"""The domain's Leonardo port over the typed client: maps our request and its errors."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, cast

from pydantic import ValidationError

from gencore.adapters.leonardo_lookup import AccountListing
from gencore.domain.account import AUTH, CREDITS
from gencore.domain.errors import (
    AccountRefused,
    GenerationMissing,
    LeonardoBusy,
    LeonardoRejected,
    SubmitOutcomeUnknown,
)
from gencore.domain.kinds import LeonardoCall
from gencore.domain.models import EXTENSIONS, Cost, LeonardoImage
from gencore.domain.platform_models import PlatformModel
from gencore.domain.ports import AccountStatus, RemoteGeneration
from gencore.domain.prompts import PromptAnswer
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
from gencore.leonardo.motion import MOTION_ROUTES
from gencore.leonardo.pricing import PricingService
from gencore.leonardo.tools import UniversalUpscaleRequest

T = TypeVar("T")

log = logging.getLogger(__name__)


class LeonardoGateway(AccountListing):
    def __init__(
        self, client_factory: Callable[..., LeonardoClient], current_key: Callable[[], str] | None = None
    ) -> None:
        # Built on first use: the API key is fetched from Secrets Manager only when needed.
        # `client_factory(fresh_key=True)` reads the key again past the cache. `current_key` reads it
        # through the same cache (the secret cache's max age): when its value is no longer the one the
        # client was built with, the next call builds a client with the new one (a rotation reaches a
        # warm function within the cache's max age, docs/runbook.md).
        self._factory = client_factory
        self._current_key = current_key
        self._client: LeonardoClient | None = None
        self._key_digest: bytes | None = None  # of the key the client holds (no second copy of it)
        self._user_id: str | None = None

    @property
    def client(self) -> LeonardoClient:
        try:
            digest = self._digest_of_current_key()
        except Exception as error:
            from gencore.adapters.secrets import SecretMissing  # Powertools Parameters: loaded by then

            if self._client is None or not isinstance(error, SecretMissing):
                raise
            # Secrets Manager unreachable (or the secret gone) after the cache expired: the key in
            # use still works as long as Leonardo accepts it (a 401 then reads it again, and fails).
            log.warning("the Leonardo API key secret could not be read again; keeping the key in use")
            return self._client
        if self._client is not None and digest != self._key_digest:
            log.info("the Leonardo API key secret changed; using its new value")
            self.forget_client()
        if self._client is None:
            self._client = self._factory()
            self._key_digest = digest
        return self._client

    def _digest_of_current_key(self) -> bytes | None:
        if self._current_key is None:
            return None
        return hashlib.sha256(self._current_key().encode()).digest()

    def forget_client(self) -> None:
        """Close and drop the client: the next call builds one, its key read afresh and its HTTP
        connections opened anew (after a SnapStart restore, neither the pool nor the key is ours)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _renew_key(self) -> None:
        """Read the key secret again past its cache and build the client on it."""
        self.forget_client()
        self._client = self._factory(fresh_key=True)
        self._key_digest = self._digest_of_current_key()  # the cache now holds what was just read

    def _keyed(self, call: Callable[[LeonardoClient], T]) -> T:
        """Run `call`; on 401/403 read the key secret again once and retry (a rotated key in a warm
        cache is not a revoked key). Safe even for the paid POST: Leonardo refused it unread."""
        try:
            return call(self.client)
        except AuthError:
            log.warning("Leonardo refused our API key; reading it again")
            self._renew_key()
            return call(self.client)

    def _as_account(self, call: Callable[[LeonardoClient], T]) -> T:
        """`call` with the key re-read on a 401/403 (`_keyed`); refused again, or out of credits:
        AccountRefused."""
        try:
            return self._keyed(call)
        except AuthError as error:
            log.error("Leonardo rejects our API key", extra={"status": error.status})
            raise AccountRefused("Leonardo rejects our API key", reason=AUTH) from error
        except PermanentError as error:
            if _out_of_credits(error):
                log.error("Leonardo says the account has no credits left", extra={"status": error.status})
                raise AccountRefused("Leonardo: not enough API credits", reason=CREDITS) from error
            raise

    def start(self, call: LeonardoCall) -> tuple[str, Cost | None]:
        """Send a kind's paid POST through the client method of its route."""
        return self._paid(lambda client: _send(client, call))

    def realtime(self, route: str, body: dict[str, Any]) -> tuple[list[str], Cost | None]:
        """One realtime canvas call (synchronous, paid, sent once): its pictures and its cost."""
        job = self._paid(lambda client: client.realtime(route, body))
        return job.image_data_url, cost_of(job)

    def improve_prompt(self, prompt: str, instructions: str | None = None) -> PromptAnswer:
        answer = self._paid(lambda client: client.improve_prompt(prompt, instructions))
        return PromptAnswer(prompt=answer.prompt, credits=_credits(answer))

    def random_prompt(self) -> PromptAnswer:
        answer = self._paid(lambda client: client.random_prompt())
        return PromptAnswer(prompt=answer.prompt, credits=_credits(answer))

    def _paid(self, call: Callable[[LeonardoClient], T]) -> T:
        """One paid POST, sent once: its errors as the domain tells them apart."""
        try:
            return self._as_account(call)
        except OutcomeUnknownError as error:
            # No answer, a 5xx, or a 2xx we cannot read: the generation may exist and be billed.
            raise SubmitOutcomeUnknown(error.message, retry_after=error.retry_after) from error
        except RetryableError as error:
            raise LeonardoBusy(error.message, retry_after=error.retry_after) from error
        except PermanentError as error:
            raise LeonardoRejected(_reason(error), code=error.code) from error
        except LeonardoError as error:  # a redirect: not followed, so the request was answered unread
            raise SubmitOutcomeUnknown(error.message) from error

    def upload_canvas_images(
        self, init: bytes, init_type: str, mask: bytes, mask_type: str
    ) -> tuple[str, str]:
        """Ask Leonardo for the canvas pair's slots and send both files there (no Leonardo key)."""

        def send(client: LeonardoClient) -> tuple[str, str]:
            upload = client.upload_canvas_images(EXTENSIONS[init_type], EXTENSIONS[mask_type])
            init_slot, mask_slot = upload.slots()
            client.send_init_image(init_slot, init, init_type)
            client.send_init_image(mask_slot, mask, mask_type)
            return init_slot.id, mask_slot.id

        return self._hand_over(send)

    def _hand_over(self, send: Callable[[LeonardoClient], T]) -> T:
        """Files handed to Leonardo's presigned uploads (free, safe to repeat): its errors mapped."""
        try:
            return self._keyed(send)  # the slot request carries the key: re-read on a 401/403
        except (RetryableError, AuthError) as error:
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error
        except PermanentError as error:
            raise LeonardoRejected(_reason(error), code="init_image_rejected") from error
        except LeonardoError as error:
            raise LeonardoBusy(error.message) from error

    def account(self) -> AccountStatus:
        """`GET /me` (the key re-read on a 401/403): usable, and how many API credits are left."""
        try:
            details = self._as_account(lambda client: client.me())
        except AccountRefused as refused:
            return AccountStatus(ok=False, reason=refused.reason)
        except LeonardoError as error:
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error
        self._user_id = details.user_id
        known = [t for t in (details.api_paid_tokens, details.api_subscription_tokens) if t is not None]
        credits = sum(known) if known else None
        if credits is not None and credits <= 0:
            return AccountStatus(ok=False, reason=CREDITS, credits=credits)
        return AccountStatus(ok=True, credits=credits)

    def platform_models(self) -> list[PlatformModel]:
        """Leonardo's platform models (`GET /platformModels`), an account-level call."""
        try:
            listed = self._as_account(lambda client: client.platform_models())
        except LeonardoError as error:
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error
        return [
            PlatformModel(id=m.id, name=m.name, description=m.description, featured=m.featured, nsfw=m.nsfw)
            for m in listed
        ]

    def price(self, service: str, params: Mapping[str, Any]) -> Decimal | None:
        """Leonardo's pricing calculator (free, an account-level call): the price of one job of
        `service` in the account's unit, None when it has none. LeonardoBusy when it cannot answer
        now (AccountRefused for our key), LeonardoRejected when it refuses the parameters."""
        try:
            named = cast(PricingService, service)
            return self._as_account(lambda client: client.pricing_calculator(named, params))
        except ValidationError as error:  # outside the document's ranges: refused before sending
            raise LeonardoRejected("the pricing calculator does not take these parameters") from error
        except PermanentError as error:
            raise LeonardoRejected(_reason(error), code=error.code) from error
        except LeonardoError as error:
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error

    def upload_init_image(self, content: bytes, content_type: str) -> str:
        """Ask Leonardo for an upload slot and send the file there (no Leonardo key on that request)."""

        def send(client: LeonardoClient) -> str:
            upload = client.upload_init_image(EXTENSIONS[content_type])
            client.send_init_image(upload, content, content_type)
            return upload.id

        return self._hand_over(send)

    def delete_init_image(self, init_image_id: str) -> None:
        try:
            self._keyed(lambda client: client.delete_init_image(init_image_id))
        except NotFoundError:
            return  # already gone: what we wanted
        except LeonardoError as error:  # busy, down, or refusing: our side is done; try again later
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error

    def variation(self, variation_id: str) -> RemoteGeneration:
        try:
            variation = self._as_account(lambda client: client.get_variation(variation_id))
        except NotFoundError as error:
            raise GenerationMissing(error.message) from error
        except LeonardoError as error:
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error
        images = [LeonardoImage(id=variation.id, url=variation.url)] if variation.url else []
        return RemoteGeneration(status=variation.status, images=images)

    def delete_generation(self, generation_id: str) -> None:
        try:
            self._as_account(lambda client: client.delete_generation(generation_id))
        except NotFoundError:
            return  # already gone: what we wanted
        except LeonardoError as error:
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error

    def generation(self, generation_id: str) -> RemoteGeneration:
        try:
            generation = self._as_account(lambda client: client.get_generation(generation_id))
        except NotFoundError as error:
            raise GenerationMissing(error.message) from error
        except LeonardoError as error:
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error
        return RemoteGeneration(
            status=generation.status,
            images=[
                LeonardoImage(id=i.id, url=i.url, nsfw=i.nsfw, video_url=i.motion_mp4_url)
                for i in generation.generated_images
            ],
        )


def _send(client: LeonardoClient, call: LeonardoCall) -> tuple[str, Cost | None]:
    """One paid POST through the client method of its route: (Leonardo's id for the work, credits)."""
    body = call.body
    if call.route == "/generations":
        job = client.create_generation(GenerationRequest.model_validate(body))
        return job.generation_id, cost_of(job)
    if call.route in MOTION_ROUTES:
        video = client.create_video(call.route, body)
        return video.generation_id, cost_of(video)
    if call.route == "/variations/upscale":
        variation = client.create_upscale(body["id"])
    elif call.route == "/variations/unzoom":
        variation = client.create_unzoom(body["id"], is_variation=bool(body.get("isVariation")))
    elif call.route == "/variations/nobg":
        variation = client.create_no_background(body["id"], is_variation=bool(body.get("isVariation")))
    elif call.route == "/variations/universal-upscaler":
        variation = client.create_universal_upscale(UniversalUpscaleRequest.model_validate(body))
    else:
        raise ValueError(f"no Leonardo route {call.route}")
    return variation.id, cost_of(variation)


def cost_of(answer: object) -> Cost | None:
    """What a create answer says it cost: `cost` (amount and unit) where Leonardo gives it, else the
    deprecated `apiCreditCost` (credits). An account billed in dollars answers `apiCreditCost: null`."""
    cost = getattr(answer, "cost", None)
    amount, unit = getattr(cost, "amount", None), getattr(cost, "unit", None)
    if amount is not None and unit in ("CREDITS", "DOLLARS"):
        try:
            return Cost(amount=_decimal(amount), unit=unit)
        except (InvalidOperation, ValueError):
            log.warning("unreadable cost amount in Leonardo's answer", extra={"unit": unit})
    credits = getattr(answer, "api_credit_cost", None)
    try:
        return Cost(amount=_decimal(credits), unit="CREDITS") if credits is not None else None
    except (InvalidOperation, ValueError):  # never let a cost we cannot read lose the generation
        log.warning("unreadable apiCreditCost in Leonardo's answer")
        return None


def _credits(answer: object) -> float | None:
    """Credits for the usage record (a cost in dollars is recorded by its own unit later)."""
    cost = cost_of(answer)
    return float(cost.amount) if cost is not None and cost.unit == "CREDITS" else None


def _decimal(value: object) -> str:
    """A plain decimal string: 7.0 -> "7", "0.0147" stays."""
    number = Decimal(str(value))
    if not number.is_finite() or number < 0:
        raise ValueError(f"not a cost: {value!r}")
    return format(number.normalize(), "f")


def _out_of_credits(error: LeonardoError) -> bool:
    """Leonardo's answer to a generation the account cannot pay for (a 400 naming the tokens)."""
    body = error.body
    text = json.dumps(body).lower() if isinstance(body, dict | list) else str(body or "").lower()
    return error.status in (400, 402, 403) and (
        "insufficient" in text or ("not enough" in text and ("token" in text or "credit" in text))
    )


def _reason(error: LeonardoError) -> str:
    """Leonardo's own explanation when it gave one (error bodies carry no secrets), else ours."""
    body = error.body
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            text = body.get(key)
            if isinstance(text, str):
                return text[:500]
    return error.message
