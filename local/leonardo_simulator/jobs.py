"""Generation records, credit accounting and the concurrency-limited job queue."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

PENDING, COMPLETE, FAILED = "PENDING", "COMPLETE", "FAILED"

# How the answer to the create was sent (GenerationRecord.answer, the generation log's `answer`).
ANSWER_OK = "ok"
ANSWER_5XX_AFTER_CREATE = "5xx_after_create"
ANSWER_SLOW = "slow"
ANSWER_MALFORMED = "malformed"  # malformed_json_rate hit the create's answer
ANSWER_MALFORMED_CREATE = "malformed_create"

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class GeneratedImage:
    id: str
    index: int
    url: str
    nsfw: bool = False
    motion_url: str | None = None  # a video generation's clip (`motionMP4URL`); None for a picture


@dataclass(frozen=True)
class VideoSpec:
    """What makes a generation a video (video.py): the route that made it and what it was made from."""

    kind: str  # text_to_video | image_to_video | motion_svd
    route: str
    model: str | None  # the motion document's model enum; None for SVD (it has no model field)
    resolution: str | None
    duration_seconds: int
    motion_strength: int | None = None  # SVD only
    source_image_id: str | None = None  # image-to-video and SVD: the picture it animates
    source_type: str | None = None  # GENERATED | UPLOADED | VARIATION
    source_generation_id: str | None = None  # the generation of a GENERATED source
    end_frame_image_id: str | None = None
    # The source picture's bytes, kept so the clip still renders after the source is deleted.
    source_picture: bytes | None = field(default=None, repr=False)


@dataclass
class GenerationRecord:
    id: str
    user_id: str
    request: dict[str, Any]  # the accepted request body, as sent
    prompt: str
    negative_prompt: str | None
    model_id: str
    sd_version: str
    width: int
    height: int
    num_images: int
    seed: int
    public: bool
    alchemy: bool
    photo_real: bool
    cost: int
    origin: str  # scheme://host:port the image URLs are built on
    created_at: datetime
    updated_at: datetime
    status: str = PENDING
    images: list[GeneratedImage] = field(default_factory=list)
    # Image-to-image lineage. The REST generation schema has no field for it, so
    # it shows only here (and as `initImageId` in the callback).
    init_image_id: str | None = None
    # Edit lineage: the generated image (`init_generation_image_id`) the pictures were made from.
    init_generation_image_id: str | None = None
    # sha256 of the init image's bytes plus the strength: mixed into the pictures.
    init_fingerprint: str = ""
    # The request log (GET /_admin/generations). `sequence` is the 1-based creation
    # order since the last reset, set by GenerationStore.add together with a
    # strictly increasing created_at.
    sequence: int = 0
    received_at: datetime | None = None  # when the create request arrived
    client: str | None = None  # "host:port" of the caller's connection
    request_headers: dict[str, str] = field(default_factory=dict)  # authorization removed
    answer: str = ANSWER_OK
    answer_status: int = 200  # the HTTP status the caller was sent (or is being sent)
    answered_at: datetime | None = None  # when the answer was handed to the server
    deleted: bool = False  # deleted through the API: gone from the store, kept in the log
    video: VideoSpec | None = None  # set on a video generation (text-to-video, image-to-video, SVD)
    # When each GET of it was answered and each of its CDN files was served (the request log's
    # `readAt` and `downloadedAt`): which generation was read or fetched twice, and when.
    read_at: list[datetime] = field(default_factory=list)
    downloaded_at: list[datetime] = field(default_factory=list)


class GenerationStore:
    """The live generations plus an append-only log of every one created since the
    last reset (deleted ones included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, GenerationRecord] = {}
        self._log: list[GenerationRecord] = []
        # Kept across clear(): createdAt never goes backwards, even over a reset.
        self._last_created: datetime | None = None

    def add(self, record: GenerationRecord) -> None:
        """Store `record`, numbering it and making its created_at strictly later than
        the previous record's (bumped by 1 us on a clock tie or a clock step back),
        so newest-first listings have no ties to reorder between calls."""
        with self._lock:
            moment = record.created_at
            if self._last_created is not None and moment <= self._last_created:
                moment = self._last_created + _TICK
            self._last_created = moment
            record.created_at = moment
            record.updated_at = max(record.updated_at, moment)
            record.sequence = len(self._log) + 1
            self._records[record.id] = record
            self._log.append(record)

    def get(self, generation_id: str) -> GenerationRecord | None:
        with self._lock:
            return self._records.get(generation_id)

    def delete(self, generation_id: str) -> GenerationRecord | None:
        with self._lock:
            record = self._records.pop(generation_id, None)
            if record is not None:
                record.deleted = True
            return record

    def was_deleted(self, generation_id: str) -> bool:
        """Deleted through the API since the last reset (gone from the store, kept in the log)."""
        with self._lock:
            return any(record.id == generation_id and record.deleted for record in self._log)

    def update(self, record: GenerationRecord, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(record, name, value)

    def note(self, record: GenerationRecord, what: str, when: datetime) -> None:
        """Append `when` to one of the record's time lists (`read_at`, `downloaded_at`)."""
        with self._lock:
            getattr(record, what).append(when)

    def snapshot(self) -> dict[str, GenerationRecord]:
        with self._lock:
            return dict(self._records)

    def by_user(self, user_id: str) -> list[GenerationRecord]:
        """Newest first, as Leonardo lists them. created_at is unique and follows
        `sequence`; the sequence tiebreak only makes that order explicit."""
        with self._lock:
            records = [r for r in self._records.values() if r.user_id == user_id]
        return sorted(records, key=lambda r: (r.created_at, r.sequence), reverse=True)

    def log[T](self, render: Callable[[GenerationRecord], T]) -> list[T]:
        """Every generation created since the last reset, oldest first, each rendered
        under the lock (so no record changes half-way through)."""
        with self._lock:
            return [render(record) for record in self._log]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._log.clear()


class CreditLedger:
    """Subscription tokens are spent first, then paid tokens."""

    def __init__(self, paid: int, subscription: int) -> None:
        self._lock = threading.Lock()
        self._start = (paid, subscription)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.paid, self.subscription = self._start

    def charge(self, cost: int) -> bool:
        with self._lock:
            if cost > self.paid + self.subscription:
                return False
            from_subscription = min(cost, self.subscription)
            self.subscription -= from_subscription
            self.paid -= cost - from_subscription
            return True

    def refund(self, cost: int) -> None:
        with self._lock:
            self.paid += cost


class JobScheduler:
    """At most `max_concurrency` jobs run; up to `queue_limit` more wait in FIFO
    order; admission beyond that is refused (the caller answers 429).

    Only touched from the server's event loop, so plain counters are enough.
    """

    def __init__(
        self,
        max_concurrency: int,
        queue_limit: int,
        run: Callable[[str], Coroutine[Any, Any, None]],
        spawn: Callable[[Coroutine[Any, Any, None]], Any],
    ) -> None:
        self.max_concurrency = max_concurrency
        self.queue_limit = queue_limit
        self._run = run
        self._spawn = spawn
        self.running = 0
        self.waiting: deque[str] = deque()
        # Bumped by reset(): jobs cancelled by a reset must not touch the new counters.
        self._epoch = 0

    def has_room(self) -> bool:
        return self.running < self.max_concurrency or len(self.waiting) < self.queue_limit

    def submit(self, generation_id: str) -> None:
        if self.running < self.max_concurrency:
            self._start(generation_id)
        else:
            self.waiting.append(generation_id)

    def _start(self, generation_id: str) -> None:
        self.running += 1
        self._spawn(self._guarded(generation_id, self._epoch))

    async def _guarded(self, generation_id: str, epoch: int) -> None:
        try:
            await self._run(generation_id)
        finally:
            if epoch == self._epoch:
                self.running -= 1
                if self.waiting:
                    self._start(self.waiting.popleft())

    def reset(self) -> None:
        # The job tasks themselves are cancelled by the owner.
        self._epoch += 1
        self.running = 0
        self.waiting.clear()
