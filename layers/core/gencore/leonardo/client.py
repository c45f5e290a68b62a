"""Synchronous Leonardo REST client (it runs inside Lambda handlers): one method per route.

How a call is sent, retried and classified lives in :mod:`.transport`; how a file reaches a
presigned S3 slot lives in :mod:`.uploads`. The methods here only name the route, shape the
body and unwrap the answer. Each one is one of three kinds:

* **reads** (GET, DELETE): retried under the :class:`RetryPolicy`; a malformed answer is retried.
* **free POSTs** (``/init-image``, ``/canvas-init-image``: they only hand out upload slots, and an
  unused slot is harmless; ``/pricing-calculator``: it only answers a price): nothing is billed, so
  they are resent like a GET.
* **paid POSTs** (generations, variations, prompt tools): NOT idempotent and billed, so sent
  exactly once per call (:meth:`LeonardoClient._paid`; the caller's queue retries with
  backoff, and a call's worst case stays :attr:`LeonardoClient.paid_call_seconds`). Only a
  connect failure or pool timeout (never sent) or a 429 (refused before work) is retryable;
  a read timeout or dropped connection after sending, any 5xx, or a 2xx we cannot read raises
  :class:`OutcomeUnknownError`: the caller must look for the work before ever sending again.

The API key lives in a :class:`~.transport.Secret` that only the per-request auth hook
unwraps; it is never an exception argument, never logged and not in repr().
"""

import random
import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx

from .errors import NotFoundError
from .models import (
    CreateGenerationEnvelope,
    DeleteGenerationEnvelope,
    DeleteInitImageEnvelope,
    Generation,
    GenerationJob,
    GenerationRequest,
    GetGenerationEnvelope,
    InitImage,
    InitImageEnvelope,
    InitImageUpload,
    InitImageUploadRequest,
    MeEnvelope,
    PlatformModel,
    PlatformModelsEnvelope,
    UploadInitImageEnvelope,
    UserDetails,
    UserGenerationsEnvelope,
)
from .motion import MotionCalls
from .pricing import PricingEnvelope, PricingRequest, PricingService
from .realtime import RealtimeCalls
from .retry import Retrier, RetryPolicy, parse_retry_after
from .tools import (
    CanvasUpload,
    CanvasUploadEnvelope,
    CanvasUploadRequest,
    CanvasUploadSlots,
    PromptEnvelope,
    PromptGeneration,
    PromptImproveRequest,
)
from .transport import ApiTransport, Envelope, Secret, path_segment
from .uploads import DEFAULT_UPLOAD_HOSTS, PresignedUploader
from .variations import VariationCalls

DEFAULT_BASE_URL = "https://cloud.leonardo.ai/api/rest/v1"


class LeonardoClient(MotionCalls, RealtimeCalls, VariationCalls):  # motion.py, realtime.py, variations.py
    """Typed client for the Leonardo generation API. Reusable; call :meth:`close` when done.

    ``upload_hosts`` lists the hosts :meth:`send_init_image` may post files to:
    exact names or ``*.suffix`` patterns (default ``*.amazonaws.com``).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str = "",
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 15.0,
        write_timeout: float = 5.0,
        pool_timeout: float = 2.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        upload_hosts: tuple[str, ...] = DEFAULT_UPLOAD_HOSTS,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        self._base_url = base_url.rstrip("/")
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        )
        # SystemRandom: stateless, so copies restored from one SnapStart snapshot do not retry in step.
        retrier = Retrier(retry or RetryPolicy(), sleep, rng or random.SystemRandom())
        self._uploads = PresignedUploader(upload_hosts, self._timeout, retrier, transport)
        self._api = ApiTransport(self._base_url, Secret(api_key), self._timeout, retrier, transport)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LeonardoClient(base_url={self._base_url!r})"

    @property
    def _http(self) -> httpx.Client | None:
        """The API's pooled HTTP client, None until the first call and after :meth:`close`."""
        return self._api.http

    @property
    def _upload_http(self) -> httpx.Client | None:
        """The uploads' HTTP client (no auth hook), None until the first upload."""
        return self._uploads.http

    @property
    def paid_call_seconds(self) -> float:
        """The longest a paid call (one attempt, never retried here) can take: every timeout of
        one exchange added up. A caller with less time left must not start one."""
        t = self._timeout
        return float((t.connect or 0) + (t.write or 0) + (t.read or 0) + (t.pool or 0))

    def __enter__(self) -> "LeonardoClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections. The client may still be used; it reconnects lazily."""
        with self._lock:
            self._api.close()
            self._uploads.close()

    # -- how each kind of call is sent ------------------------------------

    def _read(self, method: str, path: str, envelope: type[Envelope], **kwargs: Any) -> Envelope:
        """A GET or DELETE: retried under the policy."""
        return self._api.request(method, path, envelope, **kwargs)

    def _free_post(self, path: str, envelope: type[Envelope], body: dict[str, Any]) -> Envelope:
        """A POST that bills nothing and is harmless to repeat: resent like a GET."""
        return self._api.request("POST", path, envelope, json_body=body, idempotent=True)

    def _paid(self, path: str, envelope: type[Envelope], body: dict[str, Any] | None = None) -> Envelope:
        """A billed POST: one attempt, never resent once it may have reached Leonardo."""
        return self._api.request("POST", path, envelope, json_body=body, idempotent=False, attempts=1)

    # -- generations ------------------------------------------------------

    def create_generation(self, request: GenerationRequest) -> GenerationJob:
        """Start an image generation (asynchronous, billed, sent once)."""
        return self._paid("/generations", CreateGenerationEnvelope, request.to_payload()).sd_generation_job

    def get_generation(self, generation_id: str) -> Generation:
        envelope = self._read("GET", f"/generations/{path_segment(generation_id)}", GetGenerationEnvelope)
        if envelope.generations_by_pk is None:
            raise NotFoundError("Leonardo has no such generation", status=200)
        return envelope.generations_by_pk

    def delete_generation(self, generation_id: str) -> str:
        """Delete and return the deleted id. A retried DELETE whose first try
        succeeded unseen answers 404: callers may treat NotFoundError as done."""
        path = f"/generations/{path_segment(generation_id)}"
        envelope = self._read("DELETE", path, DeleteGenerationEnvelope)
        if envelope.delete_generations_by_pk is None:
            raise NotFoundError("Leonardo has no such generation", status=200)
        return envelope.delete_generations_by_pk.id

    def list_user_generations(self, user_id: str, offset: int = 0, limit: int = 10) -> list[Generation]:
        if offset < 0 or limit < 1:
            raise ValueError("offset must be >= 0 and limit >= 1")
        envelope = self._read(
            "GET",
            f"/generations/user/{path_segment(user_id)}",
            UserGenerationsEnvelope,
            params={"offset": offset, "limit": limit},
        )
        return envelope.generations

    # -- account and models -----------------------------------------------

    def me(self) -> UserDetails:
        return self._read("GET", "/me", MeEnvelope).user_details[0]

    def platform_models(self) -> list[PlatformModel]:
        return self._read("GET", "/platformModels", PlatformModelsEnvelope).custom_models

    def pricing_calculator(self, service: PricingService, params: Mapping[str, Any]) -> Decimal | None:
        """What Leonardo's pricing calculator says one job of ``service`` costs, for ``params`` in
        Leonardo's names (``IMAGE_GENERATION``'s are checked against the document's ranges first):
        an amount in the account's unit (credits; dollars on an account billed in dollars: the
        answer does not say which), or None when Leonardo has no price for them.

        A POST that spends nothing (no credits, no work), so it is safe to repeat: it is retried
        under the :class:`RetryPolicy` like a GET, a malformed answer included. It still counts
        against the account's request rate: callers cache the answers (an account-level call).
        """
        body = PricingRequest.of(service, dict(params)).to_payload()
        answer = self._free_post("/pricing-calculator", PricingEnvelope, body).answer
        return answer.cost if answer is not None else None

    # -- init images --------------------------------------------------------

    def upload_init_image(self, extension: str) -> InitImageUpload:
        """Ask for a presigned upload slot for one init image (png, jpg, jpeg or
        webp). Resent on failure like a GET: a slot costs nothing. Upload to it at
        once with :meth:`send_init_image`; the details expire quickly."""
        body = InitImageUploadRequest.model_validate({"extension": extension}).to_payload()
        return self._free_post("/init-image", UploadInitImageEnvelope, body).upload_init_image

    def send_init_image(self, upload: InitImageUpload, content: bytes, content_type: str) -> None:
        """Post the file to the slot's presigned URL: a multipart form of
        ``upload.fields`` then the file, last and named ``file`` (S3 ignores
        anything after it), with no Authorization header. Posting the same bytes
        to the same key again is harmless, so transport failures and 5xx are
        retried; a 4xx raises :class:`UploadRejectedError`, a URL outside
        ``upload_hosts`` :class:`UploadRefusedError` before connecting."""
        self._uploads.send(upload, content, content_type)

    def init_image(self, init_image_id: str) -> InitImage:
        envelope = self._read("GET", f"/init-image/{path_segment(init_image_id)}", InitImageEnvelope)
        if envelope.init_images_by_pk is None:
            raise NotFoundError("Leonardo has no such init image", status=200)
        return envelope.init_images_by_pk

    def delete_init_image(self, init_image_id: str) -> str:
        """Delete and return the deleted id; a 404 after a retry may mean it is already gone."""
        envelope = self._read("DELETE", f"/init-image/{path_segment(init_image_id)}", DeleteInitImageEnvelope)
        if envelope.delete_init_images_by_pk is None:
            raise NotFoundError("Leonardo has no such init image", status=200)
        return envelope.delete_init_images_by_pk.id

    # -- canvas: an init image and its mask in one exchange ---------------

    def upload_canvas_init_image(self, init_extension: str, mask_extension: str) -> CanvasUploadSlots:
        """Presigned slots for a canvas init image and its mask (png, jpg, jpeg or webp), in one
        free exchange (resent like a GET). Post each file at once with :meth:`send_init_image`;
        use ``init.id`` and ``mask.id`` as ``canvasInitId`` and ``canvasMaskId``."""
        return self.upload_canvas_images(init_extension, mask_extension).slots()

    def upload_canvas_images(self, init_extension: str, mask_extension: str) -> CanvasUpload:
        """Leonardo's raw answer to ``POST /canvas-init-image``; :meth:`upload_canvas_init_image`
        gives the two slots ready to post to."""
        body = CanvasUploadRequest.model_validate(
            {"initExtension": init_extension, "maskExtension": mask_extension}
        ).to_payload()
        return self._free_post("/canvas-init-image", CanvasUploadEnvelope, body).upload

    # -- prompt tools (billed, synchronous) -------------------------------

    def improve_prompt(
        self, prompt: str, instructions: str | None = None, *, is_video: bool | None = None
    ) -> PromptGeneration:
        """Leonardo's rewrite of ``prompt`` (``.prompt``) and what it cost (``.cost``)."""
        body = PromptImproveRequest(
            prompt=prompt, prompt_instructions=instructions, is_video=is_video
        ).to_payload()
        return self._paid("/prompt/improve", PromptEnvelope, body).prompt_generation

    def random_prompt(self) -> PromptGeneration:
        """A random prompt (``.prompt``) and what it cost (``.cost``). The POST has no body."""
        return self._paid("/prompt/random", PromptEnvelope).prompt_generation


__all__ = ["DEFAULT_BASE_URL", "DEFAULT_UPLOAD_HOSTS", "LeonardoClient", "RetryPolicy", "parse_retry_after"]
