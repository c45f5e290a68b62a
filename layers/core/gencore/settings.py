"""Configuration, read once per cold start from the environment the template sets."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The policies' own module, standard library only: importing the use cases that take them would load
# ports, models and the kinds in every function at init (docs/performance.md, cold starts).
from gencore.domain.policy import AccountPolicy, OrphanPolicy, Policy, UploadPolicy

POST_RECORD_SECONDS = 3.0  # DynamoDB writes after the POST answered (with their own retries)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    jobs_table: str
    idempotency_table: str
    output_bucket: str
    submit_queue_url: str
    events_queue_url: str
    batch_queue_url: str = ""  # the batch worker's messages (fan-out, cancel, deadline)
    leonardo_base_url: str = "https://cloud.leonardo.ai/api/rest/v1"
    leonardo_api_key_secret: str
    webhook_secret: str
    leonardo_max_concurrency: int = Field(default=10, ge=1)
    leonardo_video_max_concurrency: int = Field(default=0, ge=0)  # 0: video shares the image pool
    # Every create waits this long after a 429 that names no Retry-After (the account's pause).
    leonardo_rate_pause_seconds: int = Field(default=10, ge=1, le=900)
    allowed_output_origins: str = "https://cdn.leonardo.ai"
    dedupe_window_seconds: int = Field(default=60, ge=0)
    max_job_age_seconds: int = Field(default=3600, ge=60)
    poll_first_seconds: int = Field(default=30, ge=1)
    poll_max_interval_seconds: int = Field(default=300, ge=1)
    queued_check_seconds: int = Field(default=120, ge=1)
    finalize_check_seconds: int = Field(default=120, ge=1)
    submit_lease_seconds: int = Field(default=120, ge=1)
    # How long a completion for a generation we have not recorded is retried before it is dropped.
    unknown_generation_grace_seconds: int = Field(default=600, ge=1)
    webhook_max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Largest output copied into S3, per kind; checked against Content-Length and again while streaming.
    output_image_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    output_video_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    output_url_ttl_seconds: int = Field(default=3600, ge=60)
    secret_cache_seconds: int = Field(default=300, ge=0)
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    upload_max_pixels: int = Field(default=4096 * 4096, ge=32 * 32)
    upload_url_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    leonardo_upload_hosts: str = "*.amazonaws.com"  # where Leonardo's presigned init-image uploads may go
    # The account breaker (AccountGuard) and the orphan sweep (issue 9: never stuck silently).
    leonardo_hold_max_seconds: int = Field(default=6 * 3600, ge=60)  # held jobs fail after this
    account_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    account_probe_first_seconds: int = Field(default=60, ge=1)
    account_probe_max_seconds: int = Field(default=900, ge=1)
    reconcile_reserve_seconds: float = Field(default=10.0, ge=0, le=50)  # kept for the wake and metrics
    orphan_sweep_every_seconds: int = Field(default=600, ge=0)
    orphan_grace_seconds: int = Field(default=900, ge=0)
    orphan_sweep_pages: int = Field(default=10, ge=1, le=100)
    models_refresh_seconds: int = Field(default=3600, ge=60)  # the platform-model cache (GET /v1/models)
    # How often the reconciler asks Leonardo for the account's balance (GET /me; AccountBalance).
    account_balance_every_seconds: int = Field(default=600, ge=60, le=3600)
    # Prompt tools, per user: a bucket of `burst` calls refilled at `per_minute`.
    prompt_rate_burst: int = Field(default=5, ge=1, le=1000)
    prompt_rate_per_minute: float = Field(default=10.0, gt=0, le=6000)
    # The realtime canvas's own bucket per user (domain/realtime.py): a canvas redraws as the user
    # draws, so bursts are allowed, but the sustained rate is held below the jobs' (plans' `rate`).
    realtime_rate_burst: int = Field(default=6, ge=1, le=1000)
    realtime_rate_per_second: float = Field(default=2.0, gt=0, le=100)
    # One Leonardo exchange's timeouts. A paid POST makes one attempt, so their sum is its worst case.
    leonardo_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    leonardo_write_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    leonardo_read_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    leonardo_pool_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    # How long after an unanswered POST Leonardo's list must show nothing before sending again.
    submit_settle_seconds: int = Field(default=60, ge=1, le=3600)
    # Guardrails (docs/plans.md): the unit budgets and estimates are kept in, the JWT claim naming a
    # user's plan, the plans document (empty: the shipped one), the content rules' SSM parameter.
    billing_unit: Literal["CREDITS", "DOLLARS"] = "CREDITS"
    dollars_per_credit: Decimal | None = Field(default=None, gt=0)  # converts a cost in the other unit
    plan_claim: str = Field(default="plan", min_length=1, max_length=64)
    plans_document: str = ""
    content_policy_parameter: str = ""
    content_policy_cache_seconds: int = Field(default=300, ge=0, le=3600)
    price_refresh_limit: int = Field(default=20, ge=0, le=200)
    # The stack's EventBridge bus for completion events (docs/events.md); empty: none, and events wait
    # in the outbox (nothing is published, nothing is lost) until one is configured.
    event_bus_name: str = ""
    # How long after a job ended the reconciler may publish its event if the writer did not.
    events_safety_net_delay_seconds: int = Field(default=30, ge=0, le=600)

    @property
    def paid_call_seconds(self) -> float:
        return (
            self.leonardo_connect_timeout_seconds
            + self.leonardo_write_timeout_seconds
            + self.leonardo_read_timeout_seconds
            + self.leonardo_pool_timeout_seconds
        )

    @field_validator("dollars_per_credit", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value  # the template passes "" for "not set"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        values = {name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ}
        return cls.model_validate(values)

    def policy(self) -> Policy:
        return Policy(
            max_in_flight=self.leonardo_max_concurrency,
            video_max_in_flight=self.leonardo_video_max_concurrency,
            rate_pause_seconds=self.leonardo_rate_pause_seconds,
            dedupe_window_seconds=self.dedupe_window_seconds,
            max_job_age_seconds=self.max_job_age_seconds,
            submit_lease_seconds=self.submit_lease_seconds,
            queued_check_seconds=self.queued_check_seconds,
            first_poll_seconds=self.poll_first_seconds,
            max_poll_interval_seconds=self.poll_max_interval_seconds,
            finalize_check_seconds=self.finalize_check_seconds,
            # The POST's worst case plus the writes that record it.
            post_budget_seconds=self.paid_call_seconds + POST_RECORD_SECONDS,
            submit_settle_seconds=self.submit_settle_seconds,
        )

    def upload_policy(self) -> UploadPolicy:
        return UploadPolicy(
            max_bytes=self.upload_max_bytes,
            max_pixels=self.upload_max_pixels,
            url_ttl_seconds=self.upload_url_ttl_seconds,
        )

    def account_policy(self) -> AccountPolicy:
        return AccountPolicy(
            cache_seconds=self.account_cache_seconds,
            probe_first_seconds=self.account_probe_first_seconds,
            probe_max_seconds=self.account_probe_max_seconds,
            hold_max_seconds=self.leonardo_hold_max_seconds,
        )

    def orphan_policy(self) -> OrphanPolicy:
        return OrphanPolicy(
            every_seconds=self.orphan_sweep_every_seconds,
            grace_seconds=self.orphan_grace_seconds,
            limit_pages=self.orphan_sweep_pages,
        )
