"""The simulator's state and job lifecycle, independent of HTTP routing.

Everything here runs on the server's event loop, except the read-only
snapshots (`stats()`, `generations`) and `set_faults()`, which test threads
call; those go through locks in the pieces they touch.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import uuid
from collections.abc import Coroutine, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from . import errors, views
from .catalog import BY_ID
from .config import DEFAULT_MODEL_ID, FaultConfig, SimulatorConfig
from .faults import FaultInjector
from .images import render_png
from .initimages import CONTENT_TYPES, InitImageRecord, InitImageStore, object_key
from .jobs import (
    COMPLETE,
    FAILED,
    CreditLedger,
    GeneratedImage,
    GenerationRecord,
    GenerationStore,
    JobScheduler,
    VideoSpec,
)
from .largefiles import OUTPUT_TYPES
from .presign import presigned_fields
from .pricing import PROMPT_CREDITS, created_generation_credits, video_credits
from .ratelimit import RollingWindowLimiter
from .stats import Stats
from .variations import VARIATION_ROUTES, VariationRecord, Variations, picture_size, variation_log_entry
from .video import VIDEO_ROUTES, VideoRequest, output_size
from .webhooks import WebhookDispatcher


class Simulator:
    def __init__(self, cfg: SimulatorConfig) -> None:
        self.cfg = cfg
        self.faults = FaultInjector(cfg.faults)
        self.store = GenerationStore()
        self.init_images = InitImageStore()
        self.variations = Variations(self)
        # Signs the presigned upload policies; per process, like a rotating AWS secret.
        self.upload_signing_key = secrets.token_bytes(32)
        self.ledger = CreditLedger(cfg.starting_credits, cfg.starting_subscription_credits)
        self.scheduler = JobScheduler(cfg.max_concurrency, cfg.queue_limit, self._run_job, self.spawn)
        self.stats = Stats(self._gauges)
        self.webhooks = WebhookDispatcher(cfg, self.faults, self.stats, self.spawn)
        self.all_limiter = RollingWindowLimiter(cfg.rate_limit_per_minute, cfg.rate_limit_window_seconds)
        self.create_limiter = RollingWindowLimiter(
            cfg.create_rate_limit_per_minute, cfg.rate_limit_window_seconds
        )
        # CONTRACT.md: "POST /generations and each variations create route: 100 per minute", so
        # each variation route has a window of its own (POST /generations keeps create_limiter).
        # The video creates are generation creates too: each gets a window of its own (ours).
        self.route_limiters = {
            route: RollingWindowLimiter(cfg.create_rate_limit_per_minute, cfg.rate_limit_window_seconds)
            for route in (*VARIATION_ROUTES, *VIDEO_ROUTES)
        }
        self._tasks: set[asyncio.Task[None]] = set()
        # Set at shutdown: slow answers held back by a fault stop waiting.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._released: asyncio.Event | None = None

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._released = asyncio.Event()
        await self.webhooks.start()

    async def stop(self) -> None:
        if self._released is not None:
            self._released.set()
        await self._cancel_tasks()
        await self.webhooks.close()

    def release_held_answers(self) -> None:
        """Thread-safe: every answer held back by `slow_answer_after_create_rate` is
        sent now. Called before the server shuts down, which otherwise waits for them."""
        loop, released = self._loop, self._released
        if loop is None or released is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(released.set)

    async def hold_answer(self, seconds: float, hung_up: Coroutine[Any, Any, None]) -> None:
        """Wait `seconds` before an answer is sent; less if the caller hangs up
        (`hung_up` returns) or the simulator shuts down."""
        waiters = [asyncio.ensure_future(asyncio.sleep(seconds)), asyncio.ensure_future(hung_up)]
        if self._released is not None:
            waiters.append(asyncio.ensure_future(self._released.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # shutting down (a cancelled job's clean-up starts the next): nothing runs
            coro.close()
            return
        # Keep a reference: the loop only holds weak references to tasks.
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def reset(self) -> None:
        """Forget generations, counters, rate windows and credits; reseed faults."""
        self.scheduler.reset()
        await self._cancel_tasks()
        self.store.clear()
        self.init_images.clear()
        self.variations.store.clear()
        self.stats.reset()
        self.ledger.reset()
        self.all_limiter.reset()
        self.create_limiter.reset()
        for limiter in self.route_limiters.values():
            limiter.reset()
        self.faults.configure(self.faults.config)

    # -- views for tests and the admin routes --------------------------------

    def _gauges(self) -> dict[str, int]:
        return {"in_flight": self.scheduler.running, "queued": len(self.scheduler.waiting)}

    @property
    def generations(self) -> MappingProxyType[str, GenerationRecord]:
        return MappingProxyType(self.store.snapshot())

    def generation_log(self) -> list[dict[str, Any]]:
        """Every generation created since the last reset, oldest first (GET /_admin/generations)."""
        return self.store.log(views.generation_log_entry)

    def variation_log(self) -> list[dict[str, Any]]:
        """Every variation created since the last reset (GET /_admin/variations): what it worked on."""
        records = sorted(self.variations.store.snapshot().values(), key=lambda r: r.sequence)
        return [variation_log_entry(record) for record in records]

    def record_answer(
        self, record: GenerationRecord | VariationRecord, answer: str, status: int, *, sent: bool = True
    ) -> None:
        """Note how the answer to `record`'s create was (or is being) sent."""
        changes: dict[str, Any] = {"answer": answer, "answer_status": status}
        if sent:
            changes["answered_at"] = views.now()
        self._update(record, changes)

    def answer_sent(self, record: GenerationRecord | VariationRecord) -> None:
        self._update(record, {"answered_at": views.now()})

    def _update(self, record: GenerationRecord | VariationRecord, changes: dict[str, Any]) -> None:
        if isinstance(record, VariationRecord):
            self.variations.store.update(record.id, **changes)
        else:
            self.store.update(record, **changes)

    @property
    def init_image_records(self) -> MappingProxyType[str, InitImageRecord]:
        return MappingProxyType(self.init_images.snapshot())

    def set_faults(self, faults: FaultConfig) -> None:
        self.faults.configure(faults)

    # -- init images -------------------------------------------------------

    def create_init_image(self, extension: str, origin: str) -> tuple[InitImageRecord, dict[str, str]]:
        """A new upload slot and its presigned POST fields."""
        init_image_id = str(uuid.uuid4())
        moment = views.now()
        record = InitImageRecord(
            id=init_image_id,
            user_id=self.cfg.user_id,
            extension=extension,
            key=object_key(self.cfg.user_id, init_image_id, extension),
            content_type=CONTENT_TYPES[extension],
            origin=(self.cfg.public_url or origin).rstrip("/"),
            created_at=moment,
        )
        fields = presigned_fields(
            record.key,
            record.content_type,
            self.cfg.upload_max_bytes,
            moment,
            self.cfg.upload_expiry_seconds,
            self.upload_signing_key,
        )
        self.init_images.add(record)
        self.stats.incr("init_images_created")
        return record, fields

    def attach_init_image(self, key: str, content: bytes) -> None:
        """Bytes accepted by the S3 endpoint. A slot deleted in the meantime keeps
        nothing (S3 would hold an orphan object Leonardo no longer knows)."""
        if self.init_images.attach(key, content) is not None:
            self.stats.incr("init_images_uploaded")

    def get_init_image(self, init_image_id: str) -> InitImageRecord:
        record = self.init_images.get(init_image_id)
        if record is None:
            raise errors.not_found(f"init image {init_image_id} not found")
        return record

    def delete_init_image(self, init_image_id: str) -> InitImageRecord:
        record = self.init_images.delete(init_image_id)
        if record is None:
            raise errors.not_found(f"init image {init_image_id} not found")
        self.stats.incr("init_images_deleted")
        return record

    def _uploaded_init_image(self, init_image_id: str, field: str = "init_image_id") -> InitImageRecord:
        record = self.init_images.get(init_image_id)
        if record is None or record.user_id != self.cfg.user_id:
            raise errors.validation(f"init image {init_image_id} not found", field)
        if not record.uploaded:
            raise errors.validation(
                f"init image {init_image_id} has no uploaded file yet: upload it to its presigned URL first",
                field,
            )
        return record

    # -- generations -------------------------------------------------------

    def create_generation(
        self,
        accepted: dict[str, Any],
        origin: str,
        *,
        received_at: datetime | None = None,
        client: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> GenerationRecord:
        """Validate the references, charge, store and schedule one generation.
        `received_at`, `client` and `headers` describe the request, for the log."""
        init_image_id = accepted.get("init_image_id")
        init = self._uploaded_init_image(init_image_id) if init_image_id is not None else None
        if accepted.get("canvasRequest"):
            # A canvas request guides by its init image (the mask must be uploaded too).
            for name in ("canvasInitId", "canvasMaskId"):
                if not accepted.get(name):
                    raise errors.validation(f"{name} is required for a canvas request", name)
            init = self._uploaded_init_image(accepted["canvasInitId"], "canvasInitId")
            self._uploaded_init_image(accepted["canvasMaskId"], "canvasMaskId")
        generated = accepted.get("init_generation_image_id")
        generated_sha256 = None
        if generated is not None:
            generated_sha256 = self.generated_image_sha256(generated, "init_generation_image_id")
        for index, controlnet in enumerate(accepted.get("controlnets") or []):
            where = f"controlnets[{index}].initImageId"
            if controlnet.get("initImageType") == "GENERATED":
                self.generated_image_sha256(controlnet["initImageId"], where)
            else:
                self._uploaded_init_image(controlnet["initImageId"], where)
        self._check_queue_room()
        width = accepted.get("width") or 1024
        height = accepted.get("height") or 768
        num_images = accepted.get("num_images") or 4
        alchemy = accepted.get("alchemy")
        alchemy = True if alchemy is None else alchemy  # the document's default
        photo_real = bool(accepted.get("photoReal"))
        model_id = accepted.get("modelId") or DEFAULT_MODEL_ID
        model = BY_ID.get(model_id)
        cost = created_generation_credits(accepted, DEFAULT_MODEL_ID)
        if not self.ledger.charge(cost):
            raise errors.ApiError(400, "Not enough API tokens to run this generation", "insufficient-credits")
        fingerprint = ""
        if init is not None:
            fingerprint = f"{init.sha256}@{accepted.get('init_strength')}"
        elif generated_sha256 is not None:
            fingerprint = f"{generated_sha256}@{accepted.get('init_strength')}"
        seed = accepted.get("seed")
        if seed is None:
            # Leonardo picks a random seed; deriving it from the request keeps
            # "same request -> same images" true in the simulator. The init image
            # counts by its bytes, not by its (random) id.
            # The same for an edit of a generated image: its bytes, not its id.
            basis = dict(accepted)
            if init is not None:
                basis["init_image_id"] = init.sha256
            if generated_sha256 is not None:
                basis["init_generation_image_id"] = generated_sha256
            digest = hashlib.sha256(repr(sorted(basis.items())).encode()).digest()
            seed = int.from_bytes(digest[:4]) % 2_147_483_637
        moment = views.now()
        record = GenerationRecord(
            id=str(uuid.uuid4()),
            user_id=self.cfg.user_id,
            request=accepted,
            prompt=accepted["prompt"],
            negative_prompt=accepted.get("negative_prompt"),
            model_id=model_id,
            sd_version=accepted.get("sd_version") or (model.sd_version if model else "v1_5"),
            width=width,
            height=height,
            num_images=num_images,
            seed=seed,
            public=bool(accepted.get("public")),
            alchemy=alchemy,
            photo_real=photo_real,
            cost=cost,
            origin=(self.cfg.public_url or origin).rstrip("/"),
            created_at=moment,
            updated_at=moment,
            init_image_id=init_image_id,
            init_generation_image_id=generated,
            init_fingerprint=fingerprint,
            received_at=received_at,
            client=client,
            request_headers=dict(headers or {}),
        )
        self.store.add(record)  # numbers it; created_at strictly after the previous one
        self.stats.incr("generations_created")
        self.stats.incr("credits_spent", cost)
        self.scheduler.submit(record.id)
        return record

    def _check_queue_room(self) -> None:
        if not self.scheduler.has_room():
            self.stats.incr("queue_rejected")
            raise errors.ApiError(
                429,
                "Too many pending generations: the queue is full",
                "rate-limit-exceeded",
                headers={"Retry-After": str(max(1, round(self.cfg.pending_seconds)))},
            )

    # -- video generations -------------------------------------------------------

    def create_video_generation(
        self,
        request: VideoRequest,
        origin: str,
        *,
        received_at: datetime | None = None,
        client: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> GenerationRecord:
        """Check the images a video create names, charge, store and schedule it: a generation like
        any other (the same queue, `GET /generations/{id}`, callback), with one clip as its output."""
        picture, source_generation = None, None
        if request.source_id is not None:
            picture, source_generation = self.video_source(request.source_id, request.source_type, "imageId")
        end_frame = request.body.get("endFrameImage")
        if end_frame is not None:
            self.video_source(end_frame["id"], end_frame["type"], "endFrameImage.id")
        self._check_queue_room()
        cost = video_credits(request.model, request.resolution, request.duration_seconds)
        if not self.ledger.charge(cost):
            raise errors.ApiError(400, "Not enough API tokens to run this generation", "insufficient-credits")
        body = request.body
        width, height = output_size(request, picture_size(picture) if picture is not None else None)
        picture_sha256 = hashlib.sha256(picture).hexdigest() if picture is not None else ""
        seed = body.get("seed")
        if seed is None:
            # As for pictures: derived from the request (the source by its bytes, not its id).
            basis = {**body, "imageId": picture_sha256, "route": request.route}
            digest = hashlib.sha256(repr(sorted(basis.items())).encode()).digest()
            seed = int.from_bytes(digest[:4]) % 2_147_483_637
        model_name = request.model or "SVD"
        moment = views.now()
        record = GenerationRecord(
            id=str(uuid.uuid4()),
            user_id=self.cfg.user_id,
            request=body,
            # SVD takes no prompt: the animated generation's, as Leonardo shows it.
            prompt=body.get("prompt") or (source_generation.prompt if source_generation else ""),
            negative_prompt=body.get("negativePrompt"),
            model_id=views.uuid4_from(f"motion-model:{model_name}"),
            sd_version=model_name,
            width=width,
            height=height,
            num_images=1,
            seed=seed,
            public=bool(body.get("isPublic")),
            alchemy=False,
            photo_real=False,
            cost=cost,
            origin=(self.cfg.public_url or origin).rstrip("/"),
            created_at=moment,
            updated_at=moment,
            init_image_id=request.source_id if request.source_type == "UPLOADED" else None,
            init_generation_image_id=request.source_id if request.source_type == "GENERATED" else None,
            init_fingerprint=picture_sha256,
            received_at=received_at,
            client=client,
            request_headers=dict(headers or {}),
            video=VideoSpec(
                kind=request.kind,
                route=request.route,
                model=request.model,
                resolution=request.resolution,
                duration_seconds=request.duration_seconds,
                motion_strength=request.motion_strength,
                source_image_id=request.source_id,
                source_type=request.source_type,
                source_generation_id=source_generation.id if source_generation else None,
                end_frame_image_id=end_frame["id"] if end_frame else None,
                source_picture=picture,
            ),
        )
        self.store.add(record)
        self.stats.incr("generations_created")
        self.stats.incr("video_generations_created")
        self.stats.incr("credits_spent", cost)
        self.scheduler.submit(record.id)
        return record

    def video_source(
        self, image_id: str, image_type: str | None, field: str
    ) -> tuple[bytes, GenerationRecord | None]:
        """The bytes of the picture a video animates, and its generation (GENERATED): an image of one of
        this account's generations, an uploaded init image (UPLOADED) or a finished variation
        (VARIATION, SVD only). Anything else is Leonardo's 400."""
        if image_type == "UPLOADED":
            upload = self._uploaded_init_image(image_id, field)
            assert upload.content is not None
            return upload.content, None
        if image_type == "VARIATION":
            variation = self.variations.store.get(image_id)
            if variation is None or variation.status != COMPLETE:
                raise errors.validation(f"variation {image_id} not found", field)
            return self.variations.png(image_id), None
        for record in self.store.snapshot().values():
            if record.video is not None or record.user_id != self.cfg.user_id:
                continue
            for image in record.images:
                if image.id == image_id:
                    png = render_png(
                        record.prompt, record.seed, image.index, record.width, record.height,
                        record.init_fingerprint,
                    )  # fmt: skip
                    return png, record
        raise errors.validation(f"generated image {image_id} not found", field)

    async def _run_job(self, generation_id: str) -> None:
        await asyncio.sleep(self.cfg.pending_seconds)
        record = self.store.get(generation_id)
        if record is None:  # deleted while pending: nothing to finish or announce
            return
        failed = self.faults.roll("failed_generation")
        images = []
        if not failed:
            base = f"{record.origin}/cdn/users/{record.user_id}/generations/{record.id}"
            extension = OUTPUT_TYPES[self.cfg.output_type]
            for index in range(record.num_images):
                image_id = str(uuid.uuid4())
                nsfw = self.faults.roll("nsfw")
                if record.video is not None:  # a poster frame as the picture, the clip beside it
                    url, motion_url = f"{base}/{image_id}.jpg", f"{base}/{image_id}.mp4"
                    images.append(GeneratedImage(image_id, index, url, nsfw, motion_url))
                else:
                    images.append(GeneratedImage(image_id, index, f"{base}/{image_id}.{extension}", nsfw))
        self.store.update(
            record, status=FAILED if failed else COMPLETE, images=images, updated_at=views.now()
        )
        if failed:
            self.ledger.refund(record.cost)  # Leonardo does not charge for failed jobs
            self.stats.incr("generations_failed")
        else:
            self.stats.incr("generations_completed")
        self.webhooks.dispatch(views.callback_envelope(record, self.cfg))

    def generated_image_sha256(self, image_id: str, field: str) -> str:
        """The sha256 of the bytes of one of this account's generated images (Leonardo refuses an
        unknown one); an edit mixes them into its pictures, as an image-to-image does its upload's."""
        for record in self.store.snapshot().values():
            if record.video is not None:  # a video's poster is not a picture to edit
                continue
            for image in record.images:
                if image.id == image_id and record.user_id == self.cfg.user_id:
                    png = render_png(
                        record.prompt, record.seed, image.index, record.width, record.height,
                        record.init_fingerprint,
                    )  # fmt: skip
                    return hashlib.sha256(png).hexdigest()
        raise errors.validation(f"generated image {image_id} not found", field)

    def charge_prompt_call(self) -> int:
        """A prompt tool call: billed at once (PROMPT_CREDITS) and counted as `prompt_calls`."""
        if not self.ledger.charge(PROMPT_CREDITS):
            raise errors.ApiError(
                400, "Not enough API tokens to run this prompt tool", "insufficient-credits"
            )
        self.stats.incr("prompt_calls")
        self.stats.incr("credits_spent", PROMPT_CREDITS)
        return PROMPT_CREDITS

    def charge_lcm_call(self, credits: int) -> None:
        """A realtime canvas call: billed at once and counted as `lcm_calls`."""
        if not self.ledger.charge(credits):
            raise errors.ApiError(400, "Not enough API tokens to run this generation", "insufficient-credits")
        self.stats.incr("lcm_calls")
        self.stats.incr("credits_spent", credits)

    def delete_generation(self, generation_id: str) -> GenerationRecord | None:
        """The deleted record; None when it was already deleted (Hasura's delete-by-key then answers
        null, which the document allows); an id never seen is a 404."""
        record = self.store.delete(generation_id)
        if record is None and self.store.was_deleted(generation_id):
            return None
        if record is None:
            raise errors.not_found(f"generation {generation_id} not found")
        self.stats.incr("generations_deleted")
        return record

    def find_image(self, generation_id: str, image_id: str) -> tuple[GenerationRecord, GeneratedImage]:
        record = self.store.get(generation_id)
        if record is not None:
            for image in record.images:
                if image.id == image_id:
                    return record, image
        raise errors.not_found("image not found")
