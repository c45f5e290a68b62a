"""The realtime canvas: sketch-to-image in about a second, synchronously (`POST /v1/realtime/*`).

The opposite of a job: no queue, no S3 copy, the picture comes back in the answer as Leonardo gives
it (a base64 data URL). Each call is one of Leonardo's LCM routes (leonardo/realtime.py), paid and
synchronous, so it is sent once and never again after it may have reached Leonardo (DECISIONS.md).
Before anything is sent, in order:

1. the caller's realtime token bucket (tighter than the jobs' and apart from it: an interactive
   canvas fires many requests; 429 `rate_limited` with Retry-After);
2. the content policy on the prompt (422 `content_policy`);
3. the call's estimate reserved against the caller's budget (402 `budget_exceeded`).

Then the call: settled at what Leonardo reports; released when Leonardo refused it (nothing done);
settled at the estimate when the answer was lost (it may have been billed: 502
`leonardo_outcome_unknown`, not sent again). The reservation records the call as open until then, so
a call whose invocation dies before settling is settled at its estimate by the reconciler's sweep
(domain/call_sweep.py), and a call is never settled twice. With `"keep": true` each picture is also
stored as one of the caller's uploads (READY, so a later job can start from it: an LCM answer carries no
Leonardo image id, so a kept picture goes to Leonardo as an init image). Pictures too large for a
Lambda answer (6 MB) are kept in any case and answered by short-lived links instead.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .call_sweep import CallCharge, open_call
from .errors import InvalidRequest, LeonardoBusy, LeonardoRejected, SubmitOutcomeUnknown
from .ledger import reserve
from .models import Cost, Unit, Upload
from .plans import Budget
from .policy import Clock
from .rate_limits import BucketLimit, TokenBuckets

log = logging.getLogger(__name__)

Operation = Literal["generate", "refine", "inpaint", "upscale"]
ROUTES: dict[str, str] = {
    "generate": "/generations-lcm",
    "refine": "/lcm-instant-refine",
    "inpaint": "/lcm-inpainting",
    "upscale": "/lcm-upscale",
}
MAX_PICTURE_BYTES = 2 * 1024 * 1024  # an input picture, decoded (its data URL is a third larger)
# Lambda answers at most 6 MB: pictures larger than this in all are kept, and answered by link.
MAX_ANSWER_PICTURES_BYTES = 5 * 1024 * 1024
PICTURE_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
Style = Literal[
    "ANIME", "CINEMATIC", "DIGITAL_ART", "DYNAMIC", "ENVIRONMENT", "FANTASY_ART", "ILLUSTRATION",
    "PHOTOGRAPHY", "RENDER_3D", "RAYTRACED", "SKETCH_BW", "SKETCH_COLOR", "VIBRANT", "NONE",
]  # fmt: skip
# Ours (not published), as the simulator prices it: a call at a side up to 640 px, one at 1024 px,
# and an upscale; every call settles at what Leonardo reports.
CREDITS_SMALL, CREDITS_LARGE, CREDITS_UPSCALE = 1, 2, 2


def picture(data_url: str) -> tuple[str, bytes]:
    """(content type, bytes) of a JPEG or PNG data URL; ValueError for anything else."""
    head, sep, payload = data_url.partition(",")
    if not sep or head not in ("data:image/jpeg;base64", "data:image/png;base64"):
        raise ValueError("a picture is a data URL: data:image/jpeg;base64,... or data:image/png;base64,...")
    if len(payload) > MAX_PICTURE_BYTES * 4 // 3 + 4:
        raise ValueError(f"a picture is at most {MAX_PICTURE_BYTES} bytes")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("the picture is not valid base64") from error
    kind = next((t for magic, t in PICTURE_TYPES.items() if data.startswith(magic)), None)
    if kind is None or kind != head.removeprefix("data:").removesuffix(";base64"):
        raise ValueError("the picture's bytes are not the image type its data URL names")
    return kind, data


# Our field -> Leonardo's (the fields every LCM route takes; each request adds its own).
WIRE_NAMES = {"image": "imageDataUrl"} | {
    name: name for name in ("prompt", "guidance", "strength", "steps", "width", "height", "seed", "style")
}


class RealtimeRequest(BaseModel):
    """The body of POST /v1/realtime/generate and /refine (and the base of the others)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str = Field(description="The sketch or picture: a JPEG or PNG data URL (base64)")
    prompt: str = Field(min_length=1, max_length=1000)
    guidance: float | None = Field(default=None, ge=0.5, le=20)
    strength: float | None = Field(default=None, ge=0.1, le=1)
    steps: int | None = Field(default=None, ge=4, le=16)
    width: Literal[512, 640, 1024] | None = None
    height: Literal[512, 640, 1024] | None = None
    seed: int | None = Field(default=None, ge=0, le=9_999_999_998)
    style: Style | None = None
    keep: bool = Field(default=False, description="Also store each picture as one of your uploads")

    @field_validator("image")
    @classmethod
    def _a_picture(cls, value: str) -> str:
        picture(value)
        return value

    def leonardo_body(self) -> dict[str, Any]:
        """The call in Leonardo's names (leonardo/realtime.py checks it against the document)."""
        data = self.model_dump(exclude_none=True, exclude={"keep"})
        return {WIRE_NAMES[k]: v for k, v in data.items() if k in WIRE_NAMES} | self._extra_body()

    def _extra_body(self) -> dict[str, Any]:
        return {}

    def credits(self, operation: Operation) -> Decimal:
        side = max(self.width or 512, self.height or 512)
        if operation == "upscale":
            return Decimal(CREDITS_UPSCALE)
        return Decimal(CREDITS_LARGE if side > 640 else CREDITS_SMALL)


class InpaintRequest(RealtimeRequest):
    mask: str = Field(description="The area to paint (white) on the picture: a JPEG or PNG data URL")

    @field_validator("mask")
    @classmethod
    def _a_mask(cls, value: str) -> str:
        picture(value)
        return value

    def _extra_body(self) -> dict[str, Any]:
        return {"maskDataUrl": self.mask}


class UpscaleRequest(RealtimeRequest):
    refine_creative: bool | None = None
    refine_strength: float | None = Field(default=None, ge=0.5, le=0.9)

    def _extra_body(self) -> dict[str, Any]:
        extra = {"refineCreative": self.refine_creative, "refineStrength": self.refine_strength}
        return {k: v for k, v in extra.items() if v is not None}


@dataclass(frozen=True)
class RealtimeAnswer:
    pictures: list[str]  # data URLs, as Leonardo answered them (empty when `by_link`)
    cost: Cost  # what it counts as: Leonardo's report, else the estimate
    kept: list[Upload]
    by_link: bool = False  # too large for an answer: kept, to be served by short-lived links


class Canvas(Protocol):
    def realtime(self, route: str, body: dict[str, Any]) -> tuple[list[str], Cost | None]:
        """One LCM call. SubmitOutcomeUnknown when the answer does not say what happened;
        LeonardoBusy when it provably was not done (429); LeonardoRejected for good."""


class CallLedger(Protocol):
    def reserve(self, user_id: str, charge: CallCharge, budget: Budget | None, *, plan: str | None) -> None:
        """Reserve a call's estimate in its periods and record the call as open, in one write;
        BudgetExceeded (nothing reserved, nothing recorded) over a budget."""

    def settle(self, user_id: str, charge: CallCharge, amount: Decimal | None) -> bool:
        """The call's reservation becomes spent `amount` (None: nothing was done, released), once:
        False when the call was settled already (the sweep found it lost first)."""


class PictureKeeper(Protocol):
    def keep(self, user_id: str, content_type: str, data: bytes) -> Upload:
        """Store a picture as one of the user's READY uploads."""


class Content(Protocol):
    def check(self, plan: str, request: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class CallerPlan:
    name: str
    budget: Budget | None


class Realtime:
    def __init__(
        self,
        canvas: Canvas,
        buckets: TokenBuckets,
        ledger: CallLedger,
        keeper: PictureKeeper,
        clock: Clock,
        limit: BucketLimit,
        *,
        unit: Unit = "CREDITS",
        content: Content | None = None,
    ) -> None:
        self._canvas, self._buckets, self._ledger, self._keeper = canvas, buckets, ledger, keeper
        self._clock, self._limit, self._unit, self._content = clock, limit, unit, content

    def run(
        self, user_id: str, plan: CallerPlan, operation: Operation, request: RealtimeRequest
    ) -> RealtimeAnswer:
        self._buckets.take(user_id, "realtime", self._limit)
        if self._content is not None:
            self._content.check(plan.name, {"prompt": request.prompt})
        now = self._clock()
        charge = open_call(reserve(request.credits(operation), self._unit, now), now)
        self._ledger.reserve(user_id, charge, plan.budget, plan=plan.name)
        try:
            pictures, cost = self._canvas.realtime(ROUTES[operation], request.leonardo_body())
        except SubmitOutcomeUnknown:
            self._settle(user_id, charge, Decimal(charge.estimate))  # it may have been billed
            raise
        except (LeonardoBusy, LeonardoRejected, InvalidRequest):
            self._settle(user_id, charge, None)  # provably not done: nothing spent
            raise
        spent = (
            Decimal(cost.amount) if cost is not None and cost.unit == self._unit else Decimal(charge.estimate)
        )
        self._settle(user_id, charge, spent)
        by_link = sum(len(p) for p in pictures) > MAX_ANSWER_PICTURES_BYTES
        kept = [self._keeper.keep(user_id, *picture(p)) for p in pictures] if request.keep or by_link else []
        counted = cost or Cost(amount=charge.estimate, unit=self._unit, source="estimate")
        return RealtimeAnswer(pictures=[] if by_link else pictures, cost=counted, kept=kept, by_link=by_link)

    def _settle(self, user_id: str, charge: CallCharge, amount: Decimal | None) -> None:
        try:
            self._ledger.settle(user_id, charge, amount)
        except Exception:  # the caller's answer is not lost for a ledger line: logged, and the call
            # stays open, so the sweep settles it at its estimate once it is due
            log.exception("a realtime call's charge was not settled", extra={"estimate": charge.estimate})
