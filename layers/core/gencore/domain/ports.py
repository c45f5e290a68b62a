"""What the domain needs from the outside world. Adapters implement these; tests may fake them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: a module importing a port does not load the models or the kinds
    from .kinds import LeonardoCall
    from .models import Cost, GenerationEvent, ImageFacts, Job, JobStatus, LeonardoImage, OutputImage, Upload
    from .plans import Budget


@dataclass(frozen=True)
class Page:
    jobs: list[Job]
    next_cursor: str | None


# A job -> the Leonardo pool its slot comes from and that pool's cap (domain/waiting.py, Pools).
PoolOf = Callable[["Job"], tuple[str, int]]


@dataclass(frozen=True)
class SlotClaim:
    """Outcome of asking for a Leonardo concurrency slot for a job."""

    granted: bool  # the job now holds a slot and may be submitted by this caller
    job: Job | None  # the job as it stands (None if it does not exist)


@dataclass(frozen=True)
class RemoteGeneration:
    status: str  # PENDING | COMPLETE | FAILED
    images: list[LeonardoImage]
    api_credit_cost: float | None = None


class JobStore(Protocol):
    def create(
        self,
        job: Job,
        *,
        dedupe_key: str,
        dedupe_expires_at: int,
        replace_job_id: str | None = None,
        budget: Budget | None = None,
        max_waiting: int | None = None,
    ) -> Job | None:
        """Store a new job unless a live job holds `dedupe_key`: then return that one instead.

        With `replace_job_id`, the dedupe entry may be taken over only from that job. A job with a
        `charge` reserves it in the same write: BudgetExceeded (nothing stored) when a period of
        `budget` would go over. A job `waiting_counted` counts against its user's waiting jobs in
        the same write: TooManyWaiting (nothing stored) past `max_waiting`. Every later write that
        changes the job's charge (ledger.charge_after) moves the ledger in the same write, and one
        that moves it out of QUEUED takes it out of the count.
        """

    def get(self, job_id: str) -> Job | None: ...

    def list_for_user(self, user_id: str, *, limit: int, cursor: str | None) -> Page: ...

    def job_for_generation(self, generation_id: str) -> Job | None: ...

    def claim_slot(self, job_id: str, *, pools: PoolOf, now: datetime, lease_seconds: int) -> SlotClaim:
        """Atomically take a slot of the job's pool, under that pool's cap (or take over an expired
        lease) for a QUEUED job; the job records the pool (`slot_pool`) its release gives back to."""

    def mark_submitted(
        self,
        job: Job,
        *,
        generation_id: str,
        cost: Cost | None,
        now: datetime,
        due_at: int,
        pool: str = "image",
    ) -> Job:
        """QUEUED -> SUBMITTED and map the generation to the job, fenced on the caller's slot claim.
        A job without a slot (an unanswered POST's generation adopted) takes one of `pool` uncapped.

        GenerationTaken if another job owns the generation; TransitionConflict if the job moved on
        or the claim was taken over.
        """

    def transition(
        self,
        job: Job,
        to: JobStatus,
        *,
        now: datetime,
        release_slot: bool = False,
        due_at: int | None = None,
        **fields: object,
    ) -> Job:
        """Move `job` to `to` if it is still in `job.status`; raise TransitionConflict otherwise.

        With release_slot the job's concurrency slot (if it holds one) is returned in the same
        transaction. `due_at=None` on a terminal status removes the job from the due index.
        """

    def release_slot(self, job: Job, *, now: datetime) -> Job: ...

    def update(self, job: Job, *, now: datetime, **fields: object) -> Job:
        """Set `fields` if the job is still in `job.status`; TransitionConflict otherwise."""

    def cancel(self, job: Job, *, now: datetime, failure: tuple[str, str] | None = None) -> Job:
        """QUEUED -> CANCELLED (out of the line) only while no submitter holds the job and no POST
        of it may be unanswered; TransitionConflict otherwise. With `failure` (code, message) it
        ends FAILED instead, on the same terms (a batch's deadline)."""

    def begin_post(
        self, job: Job, *, now: datetime, fingerprint: str, lock_expires_at: int, due_at: int | None = None
    ) -> Job:
        """Durably note, before the paid POST, that it may create a generation from `now` on, and
        take the request lock for `fingerprint`. Fenced on the caller's slot claim. With `due_at`,
        the reconciler looks at the job then, should the answer never be recorded.

        Raises TransitionConflict if the claim was lost, IdenticalRequestInFlight if another job's
        identical-looking POST is still unanswered.
        """

    def end_uncertainty(self, job: Job) -> Job:
        """The POST was refused for sure: clear the note and the lock (fenced on the claim)."""

    def release_request_lock(self, job: Job) -> None:
        """Best effort: let go of the job's request lock."""

    def generation_owner(self, generation_id: str) -> str | None:
        """The id of the job that recorded this generation, if any."""

    def reschedule(
        self,
        job: Job,
        *,
        due_at: int,
        checks: int | None = None,
        submit_token: int | None = None,
        recovered_at: datetime | None = None,
    ) -> None:
        """Move the job's next check (and what is given) if it is still in the status it was read in."""

    def due_job_ids(self, *, now: int, limit: int) -> list[str]: ...

    def park(self, job: Job, pool: str = "image") -> bool:
        """Move a QUEUED job without a slot to `pool`'s waiting line if `job.submit_token` is still live."""

    def waiting_job_ids(self, *, limit: int, pool: str = "image") -> list[str]:
        """The head of a pool's waiting line, longest waiting first."""

    def leave_line(self, job_id: str, *, due_at: int, pool: str = "image") -> Job | None:
        """Take a waiting job out of `pool`'s line with a new submit token; the job as that left it
        (None if it was not waiting there)."""

    def in_flight(self, pool: str = "image") -> int:
        """Generations holding a slot of one of Leonardo's pools."""


class SubmitQueue(Protocol):
    def send(self, job_id: str, *, delay_seconds: int = 0, attempt: int = 0, token: int = 0) -> None: ...


class EventQueue(Protocol):
    def send(self, event: GenerationEvent) -> None: ...


class Leonardo(Protocol):
    def start(self, call: LeonardoCall) -> tuple[str, Cost | None]:
        """Send one paid POST (a kind built it); returns (Leonardo's id for the work, its cost).

        Raises SubmitOutcomeUnknown when the answer does not say whether it was created,
        LeonardoBusy only when it provably was not (429, never sent), LeonardoRejected for good.
        """

    def generation(self, generation_id: str) -> RemoteGeneration: ...

    def variation(self, variation_id: str) -> RemoteGeneration:
        """A variation's state (`GET /variations/{id}`): its one output as the only image."""

    def delete_generation(self, generation_id: str) -> None:
        """Delete a generation and its images at Leonardo (already gone counts as done).
        Raises LeonardoBusy when Leonardo could not be asked now."""

    def request_fingerprint(self, call: LeonardoCall) -> str:
        """A hash of a `POST /generations` call as Leonardo's list echoes it: equal for two calls
        that the list could not tell apart."""

    def find_generations(self, call: LeonardoCall, *, since: datetime) -> list[str]:
        """Our account's generations that echo `call` and were created since `since`, oldest
        first. Raises LeonardoBusy if the list cannot be read now, LookupIncomplete if it cannot be
        read back that far."""

    def delete_init_image(self, init_image_id: str) -> None:
        """Delete Leonardo's copy of an init image (already gone counts as done)."""

    def upload_init_image(self, content: bytes, content_type: str) -> str:
        """Hand an image to Leonardo as an init image; returns Leonardo's init image id."""

    def upload_canvas_images(
        self, init: bytes, init_type: str, mask: bytes, mask_type: str
    ) -> tuple[str, str]:
        """Hand a canvas init image and its mask to Leonardo in one exchange; returns their ids."""

    def account(self) -> AccountStatus:
        """Whether our key and account can start generations now (`GET /me`, the key secret re-read).

        An account-level call, counted apart from any job's. Raises LeonardoBusy when Leonardo
        could not answer (that is no verdict on the account).
        """

    def recent_generations(self, *, since: datetime, limit_pages: int) -> list[RemoteSummary]:
        """Our account's generations created since `since`, newest first, at most `limit_pages` pages.

        An account-level call (`GET /generations/user/{userId}`). Raises LeonardoBusy when
        Leonardo could not answer.
        """


class OutputStore(Protocol):
    def existing(self, key_prefix: str, *, index: int, source_id: str) -> OutputImage | None:
        """The output stored for `index` if it was copied from `source_id` already (crash recovery)."""

    def copy(self, url: str, key_prefix: str, *, index: int, source_id: str) -> OutputImage:
        """Stream `url` into the bucket under `key_prefix`/<index>.<ext>; never holds the whole file."""

    def presign(self, key: str) -> str: ...

    def delete(self, key: str) -> None:
        """Delete one of our copies (already gone counts as done)."""


@dataclass(frozen=True)
class PresignedPost:
    """Where and how a client uploads one file straight to our bucket."""

    url: str
    fields: dict[str, str]
    expires_at: int


class UploadStore(Protocol):
    def create_upload(self, upload: Upload) -> None: ...

    def get_upload(self, upload_id: str) -> Upload | None: ...

    def finish_upload(self, upload: Upload, **fields: object) -> Upload:
        """PENDING -> READY/REJECTED (fields carry the status and facts); the winner of a race is returned."""

    def set_leonardo_init_image(self, upload: Upload, init_image_id: str) -> str:
        """Record Leonardo's id for the upload unless one is recorded already; returns the recorded one."""

    def set_leonardo_canvas(self, mask: Upload, canvas: dict[str, Any]) -> dict[str, Any]:
        """Record a canvas pair's Leonardo ids on its (READY) mask unless recorded; returns the recorded
        pair. UploadNotReady if the mask is no longer READY."""

    def mark_deleted(self, upload: Upload, *, now: datetime) -> Upload:
        """Any status -> DELETED (no more use, no new Leonardo copy); returns the upload as stored."""

    def forget_leonardo_init_image(self, upload: Upload) -> None:
        """Leonardo's copies are gone: drop their ids from the (DELETED) upload."""


class UploadBucket(Protocol):
    def presign_post(self, key: str, *, content_type: str, max_bytes: int, expires_in: int) -> PresignedPost:
        """A form POST that can only put `key`, of `content_type`, of at most `max_bytes`."""

    def head(self, key: str) -> tuple[int, str] | None:
        """(size, stored content type) of the object, or None if nothing was uploaded."""

    def read(self, key: str, *, max_bytes: int) -> bytes: ...

    def lines(self, key: str, *, max_bytes: int) -> Iterator[str]:
        """The object's text lines (blank ones too), streamed, up to `max_bytes`."""

    def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def delete(self, key: str) -> None: ...


class ImageInspector(Protocol):
    def inspect(self, data: bytes, *, declared: str, max_pixels: int, mask: bool = False) -> ImageFacts:
        """Establish what `data` really is without decoding more than `max_pixels`.

        Raises UploadRejected (with a stable code) for anything but a single-frame image of the
        declared type; with `mask`, also for anything but a usable mask (single-channel or
        two-level, neither empty nor full).
        """


# --- the Leonardo account as a whole (issue 9: never stuck silently) ---------------------------


@dataclass(frozen=True)
class AccountStatus:
    """What Leonardo says about our account (`GET /me`): usable or not, and why not."""

    ok: bool
    reason: str | None = None  # when not ok: leonardo_auth (key wrong or revoked) | leonardo_credits
    credits: float | None = None  # API credits left, if Leonardo said


@dataclass(frozen=True)
class RemoteSummary:
    """One generation of our account as Leonardo lists it (`GET /generations/user/{userId}`)."""

    id: str
    created_at: datetime
    status: str  # PENDING | COMPLETE | FAILED
    cost: float | None = None  # credits, if Leonardo reported them


@dataclass(frozen=True)
class AccountBlock:
    """Leonardo refuses our account (key wrong or revoked, credits exhausted): submits are held."""

    reason: str  # leonardo_auth | leonardo_credits
    since: datetime  # the first trip; a second trip keeps it
    next_probe_at: datetime  # the reconciler asks Leonardo again from then on
    probes: int = 0  # failed probes so far (drives the backoff)


class AccountStateStore(Protocol):
    """One item holding the account's block, if any. Writes are conditional on the block's `since`."""

    def load(self) -> AccountBlock | None: ...

    def trip(self, block: AccountBlock) -> AccountBlock:
        """Store `block` unless a block is stored already; returns the stored one (the first wins)."""

    def update(self, block: AccountBlock) -> bool:
        """Replace the stored block if it is still the one since `block.since`; False otherwise."""

    def clear(self, since: datetime) -> bool:
        """Remove the block if it is still the one since `since`; False if it changed or is gone."""

    def pause(self, until: datetime) -> datetime:
        """Pause every create until `until` (Leonardo's Retry-After), unless a later pause is stored;
        returns the pause that stands."""

    def paused_until(self) -> datetime | None:
        """The end of the account's create pause (past or not), None if none was ever set."""


@dataclass(frozen=True)
class Orphan:
    """A generation of our account that no job owns: money spent on nothing we deliver."""

    generation_id: str
    created_at: datetime
    status: str
    cost: float | None
    found_at: datetime


class OrphanStore(Protocol):
    """The orphan sweep's own state (one item) and the orphans it found."""

    def claim_sweep(self, *, now: datetime, every_seconds: int) -> tuple[bool, datetime | None]:
        """Start a sweep unless one started less than `every_seconds` ago.

        Returns (claimed, reached): `reached` is the createdAt up to which earlier sweeps looked.
        """

    def finish_sweep(self, *, reached: datetime) -> None:
        """Every generation created up to `reached` has been looked at (never moves backwards)."""

    def record_orphan(self, orphan: Orphan, *, expires_at: int) -> bool:
        """Keep an ORPHAN#<generation id> item; False if that generation was recorded before."""

    def orphans(self, *, limit: int) -> list[Orphan]:
        """The recorded orphans, newest generation first."""
