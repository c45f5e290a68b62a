"""Plans: what each kind of user may ask for and spend, from one JSON document (docs/plans.md).

The document is configuration: a template parameter (or an SSM parameter) holds it, and with none
the shipped default (`gencore/config/plans.json`: `free` and `pro`) applies. It is validated once
per cold start, strictly: unknown keys, wrong types, a missing default plan or a budget unit other
than the deployment's are errors, never silently ignored. A user's plan is named by a JWT claim;
absent (or naming no plan of the document), the default plan applies.

`check_caps` refuses a request over one of its plan's caps with 422 `plan_limit` naming the cap:
never a silent clamp. Budgets, the request rate, the waiting cap, the queue time and the NSFW
policy are read by the ledger, the rate limiter, the waiting line and the processor
(`PlansDocument.nsfw_policy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from .errors import PlanLimit
from .models import UUID_PATTERN, JobKind, NsfwPolicy
from .rate_limits import BucketLimit
from .video_catalog import Resolution, VideoModel, clip_seconds

PlanName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
ModelId = Annotated[str, Field(pattern=UUID_PATTERN)]
ANY: Literal["*"] = "*"
# The fields of a request whose text is sent to Leonardo as a prompt (each under max_prompt_length).
PROMPT_FIELDS = ("prompt", "negative_prompt", "enhance_prompt_instruction")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Caps(_Strict):
    """What one request may ask for."""

    max_images_per_request: int = Field(ge=1, le=8)
    max_width: int = Field(ge=32, le=1536)
    max_height: int = Field(ge=32, le=1536)
    max_prompt_length: int = Field(ge=1, le=1500)
    allowed_models: Literal["*"] | list[ModelId] = Field(min_length=1)  # "*": any model
    allowed_kinds: Literal["*"] | list[JobKind] = Field(min_length=1)  # "*": every kind
    # Video jobs (POST /v1/videos): the models, the clip's length and its resolutions a plan takes.
    video_models: Literal["*"] | list[VideoModel] = Field(default=ANY, min_length=1)
    max_video_seconds: int = Field(default=10, ge=1, le=60)
    video_resolutions: Literal["*"] | list[Resolution] = Field(default=ANY, min_length=1)


class Budget(_Strict):
    """What a user may spend, in the document's `budget_unit`; periods are UTC days and months."""

    per_day: Decimal = Field(ge=0)
    per_month: Decimal = Field(ge=0)

    @model_validator(mode="after")
    def _day_within_month(self) -> Budget:
        if self.per_day > self.per_month:
            raise ValueError("per_day is more than per_month")
        return self


class Rate(_Strict):
    """Requests per second a user may make (a token bucket: `burst` at once, refilled at `per_second`)."""

    per_second: float = Field(gt=0, le=1000)
    burst: int = Field(ge=1, le=10_000)

    @property
    def bucket(self) -> BucketLimit:
        return BucketLimit(capacity=self.burst, per_second=self.per_second)


class Plan(_Strict):
    caps: Caps
    budget: Budget
    rate: Rate
    max_waiting_jobs: int = Field(ge=1, le=100_000)  # jobs QUEUED here at once (batch items exempt)
    max_queue_seconds: int = Field(ge=1, le=7 * 86400)  # then the job fails expired_in_queue
    nsfw: NsfwPolicy  # keep; keep and flag on the view; withhold the image (models.NsfwPolicy)

    _name: str = PrivateAttr(default="")

    @property
    def name(self) -> str:
        return self._name


class PlansDocument(_Strict):
    version: Literal[1]
    budget_unit: Literal["CREDITS", "DOLLARS"]
    default_plan: PlanName
    plans: dict[PlanName, Plan] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_exists(self) -> PlansDocument:
        if self.default_plan not in self.plans:
            raise ValueError(f"default_plan {self.default_plan!r} is not one of the plans")
        for name, plan in self.plans.items():
            plan._name = name
        return self

    def plan_for(self, name: str | None) -> Plan:
        """The plan a JWT claim names; the default plan when it names none or one we do not have
        (the least a deployment gives, never more)."""
        return self.plans.get(name or "") or self.plans[self.default_plan]

    def nsfw_policy(self, name: str | None) -> NsfwPolicy:
        """What the processor does with a job's NSFW-flagged images, by the plan the job was
        accepted under (`Job.plan`): a job of no plan (accepted before plans existed) keeps them."""
        return "keep" if name is None else self.plan_for(name).nsfw

    def for_billing_unit(self, unit: str) -> PlansDocument:
        """This document, if its budgets are in the deployment's unit (checked at cold start)."""
        if self.budget_unit != unit:
            raise ValueError(f"the plans' budgets are in {self.budget_unit}, the deployment bills in {unit}")
        return self


def load_plans(text: str | None) -> PlansDocument:
    """The plans document from its JSON text; the shipped default when there is none (empty)."""
    if not text or not text.strip():
        return default_plans()
    return PlansDocument.model_validate_json(text)


def default_plans() -> PlansDocument:
    return PlansDocument.model_validate_json(default_plans_json())


def default_plans_json() -> str:
    return resources.files("gencore").joinpath("config", "plans.json").read_text(encoding="utf-8")


def check_caps(plan: Plan, kind: str, request: Mapping[str, Any]) -> None:
    """Refuse `request` (a job's normalized request, of `kind`) with PlanLimit naming the first
    cap it is over."""
    caps = plan.caps
    if caps.allowed_kinds != ANY and kind not in caps.allowed_kinds:
        raise PlanLimit("allowed_kinds", f"the {plan.name} plan does not include {kind} jobs")
    if (
        "model_id" in request
        and caps.allowed_models != ANY
        and request["model_id"] not in caps.allowed_models
    ):
        what = "this model" if request["model_id"] else "photoReal v1 (which runs without a model)"
        raise PlanLimit("allowed_models", f"the {plan.name} plan does not include {what}")
    numbers = (
        (
            "max_images_per_request",
            request.get("num_images"),
            caps.max_images_per_request,
            "images per request",
        ),
        ("max_width", request.get("width"), caps.max_width, "px wide"),
        ("max_height", request.get("height"), caps.max_height, "px high"),
    )
    for cap, asked, limit, unit in numbers:
        if asked is not None and asked > limit:
            raise PlanLimit(cap, f"the {plan.name} plan allows at most {limit} {unit}", limit=limit)
    if kind in VIDEO_KINDS:
        _check_video(plan, request)
    for field in PROMPT_FIELDS:
        text = request.get(field)
        if isinstance(text, str) and len(text) > caps.max_prompt_length:
            limit = caps.max_prompt_length
            message = f"the {plan.name} plan allows {field.replace('_', ' ')}s of at most {limit} characters"
            raise PlanLimit("max_prompt_length", message, limit=limit)


VIDEO_KINDS = frozenset({"text_to_video", "image_to_video", "motion"})


def _check_video(plan: Plan, request: Mapping[str, Any]) -> None:
    """A video job's own caps: its model, its length (the default length where none is asked), its
    resolution. The SVD motion has no model or options: only its length (a fixed clip) is not ours."""
    caps, model = plan.caps, request.get("model")
    if model is None:
        return
    if caps.video_models != ANY and model not in caps.video_models:
        raise PlanLimit("video_models", f"the {plan.name} plan does not include the {model} video model")
    seconds = clip_seconds(model, request.get("duration"))
    if seconds > caps.max_video_seconds:
        limit = caps.max_video_seconds
        raise PlanLimit(
            "max_video_seconds", f"the {plan.name} plan allows clips of at most {limit} s", limit=limit
        )
    resolution = request.get("resolution")
    if resolution is not None and caps.video_resolutions != ANY and resolution not in caps.video_resolutions:
        raise PlanLimit("video_resolutions", f"the {plan.name} plan does not include {resolution} video")
