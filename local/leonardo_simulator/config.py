"""Simulator settings: plain dataclasses, plus `from_env()` for the standalone server."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .largefiles import MAX_OUTPUT_BYTES, OUTPUT_TYPES

DEFAULT_USER_ID = "5b0d7e44-2a2f-4a7e-9c1d-3f1e6a0b9c21"
DEFAULT_MODEL_ID = "b24e16ff-06e3-43eb-8d33-4416c2d75876"  # the openapi document's default modelId


@dataclass(frozen=True)
class FaultConfig:
    """Fault knobs. Rates are probabilities in [0, 1]; each kind draws from its own
    `random.Random` seeded from `seed`, so one knob never shifts another's sequence."""

    seed: int = 0
    drop_callback_rate: float = 0.0
    duplicate_callback_rate: float = 0.0
    delay_callback_rate: float = 0.0
    delay_callback_seconds: float = 1.0
    http_429_rate: float = 0.0
    http_5xx_rate: float = 0.0
    failed_generation_rate: float = 0.0
    malformed_json_rate: float = 0.0
    cdn_delay_seconds: float = 0.0
    # After-create faults: on a creating route (POST /generations) the generation is
    # created, charged and scheduled, and only then is its answer spoiled, so the
    # caller cannot tell whether it paid.
    http_5xx_after_create_rate: float = 0.0
    slow_answer_after_create_rate: float = 0.0
    slow_answer_seconds: float = 30.0
    malformed_create_rate: float = 0.0
    # Not a fault: the share of generated images Leonardo flags `nsfw: true`.
    nsfw_rate: float = 0.0

    RATE_FIELDS = (
        "drop_callback_rate",
        "duplicate_callback_rate",
        "delay_callback_rate",
        "http_429_rate",
        "http_5xx_rate",
        "failed_generation_rate",
        "malformed_json_rate",
        "http_5xx_after_create_rate",
        "slow_answer_after_create_rate",
        "malformed_create_rate",
        "nsfw_rate",
    )
    SECONDS_FIELDS = ("delay_callback_seconds", "cdn_delay_seconds", "slow_answer_seconds")

    def __post_init__(self) -> None:
        for name in self.RATE_FIELDS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in self.SECONDS_FIELDS:
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of seconds, not negative, got {value}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def updated(self, changes: Mapping[str, Any]) -> FaultConfig:
        """A copy with `changes` applied; rejects unknown names and non-numbers."""
        known = {f.name: f.type for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number")
            if name == "seed" and not float(value).is_integer():
                raise ValueError("seed must be an integer")
            coerced[name] = int(value) if name == "seed" else float(value)
        return replace(self, **coerced)


@dataclass(frozen=True)
class SimulatorConfig:
    api_key: str = "sim-key"
    webhook_url: str | None = None
    webhook_key: str | None = "hook-key"
    pending_seconds: float = 2.0
    strict: bool = True
    max_concurrency: int = 10
    queue_limit: int = 200
    rate_limit_per_minute: int = 2000
    create_rate_limit_per_minute: int = 100
    rate_limit_window_seconds: float = 60.0
    starting_credits: int = 100_000
    starting_subscription_credits: int = 0
    user_id: str = DEFAULT_USER_ID
    username: str = "simulator-user"
    # Where generated image URLs point. None: the origin the client used to reach us.
    public_url: str | None = None
    webhook_retries: int = 3
    webhook_backoff_seconds: float = 0.5
    webhook_timeout_seconds: float = 5.0
    # Multiplies every retry backoff, so tests can run the real schedule quickly.
    time_scale: float = 1.0
    # Init-image uploads: the presigned policy's content-length-range ceiling and lifetime.
    upload_max_bytes: int = 10 * 1024 * 1024
    upload_expiry_seconds: float = 60.0
    # Large outputs (a video, an upscale): every generated file is served as `output_type`, grown
    # to `output_bytes` with filler made while streaming (largefiles.py). 0: the plain PNG.
    output_bytes: int = 0
    output_type: str = "image/png"
    # Leonardo's documents do not say a 429 carries Retry-After: False sends none.
    send_retry_after: bool = True
    # How creates answer their cost: CREDITS (`apiCreditCost` and `cost` in credits) or DOLLARS
    # (`apiCreditCost: null`, `cost` in dollars: the documented example's account).
    cost_unit: str = "CREDITS"
    # The realtime canvas (LCM) routes answer after this long, as Leonardo's own answer time, so a
    # benchmark can measure what a caller adds on top of it.
    lcm_answer_seconds: float = 0.3
    faults: FaultConfig = field(default_factory=FaultConfig)
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        if self.upload_max_bytes < 1:
            raise ValueError("upload_max_bytes must be at least 1")
        if self.upload_expiry_seconds <= 0:
            raise ValueError("upload_expiry_seconds must be positive")
        if not 0 <= self.output_bytes <= MAX_OUTPUT_BYTES:
            raise ValueError(f"output_bytes must be between 0 and {MAX_OUTPUT_BYTES}")
        if self.cost_unit not in ("CREDITS", "DOLLARS"):
            raise ValueError("cost_unit must be CREDITS or DOLLARS")
        if not (math.isfinite(self.lcm_answer_seconds) and self.lcm_answer_seconds >= 0):
            raise ValueError("lcm_answer_seconds must be a finite number of seconds, not negative")
        if self.output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {', '.join(OUTPUT_TYPES)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SimulatorConfig:
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {"port": 8090}
        for name, (var, kind) in _ENV_VARS.items():
            if var in env and env[var] != "":
                kwargs[name] = _parse(var, env[var], kind)
        fault_kwargs: dict[str, Any] = {}
        for f in fields(FaultConfig):
            var = f"LEONARDO_SIM_{f.name.upper()}"
            if var in env and env[var] != "":
                fault_kwargs[f.name] = _parse(var, env[var], int if f.name == "seed" else float)
        return cls(**kwargs, faults=FaultConfig(**fault_kwargs))


# SimulatorConfig field -> (environment variable, parser). Fault knobs are derived
# from FaultConfig's field names: LEONARDO_SIM_<FIELD_NAME_UPPER>.
_ENV_VARS: dict[str, tuple[str, Any]] = {
    "host": ("LEONARDO_SIM_HOST", str),
    "port": ("LEONARDO_SIM_PORT", int),
    "api_key": ("LEONARDO_API_KEY", str),
    "webhook_url": ("LEONARDO_WEBHOOK_URL", str),
    "webhook_key": ("LEONARDO_WEBHOOK_KEY", str),
    "pending_seconds": ("LEONARDO_SIM_PENDING_SECONDS", float),
    "strict": ("LEONARDO_SIM_STRICT", bool),
    "max_concurrency": ("LEONARDO_SIM_MAX_CONCURRENCY", int),
    "queue_limit": ("LEONARDO_SIM_QUEUE_LIMIT", int),
    "rate_limit_per_minute": ("LEONARDO_SIM_RATE_LIMIT_PER_MINUTE", int),
    "create_rate_limit_per_minute": ("LEONARDO_SIM_CREATE_RATE_LIMIT_PER_MINUTE", int),
    "starting_credits": ("LEONARDO_SIM_STARTING_CREDITS", int),
    "starting_subscription_credits": ("LEONARDO_SIM_STARTING_SUBSCRIPTION_CREDITS", int),
    "user_id": ("LEONARDO_SIM_USER_ID", str),
    "username": ("LEONARDO_SIM_USERNAME", str),
    "public_url": ("LEONARDO_SIM_PUBLIC_URL", str),
    "webhook_retries": ("LEONARDO_SIM_WEBHOOK_RETRIES", int),
    "webhook_backoff_seconds": ("LEONARDO_SIM_WEBHOOK_BACKOFF_SECONDS", float),
    "webhook_timeout_seconds": ("LEONARDO_SIM_WEBHOOK_TIMEOUT_SECONDS", float),
    "time_scale": ("LEONARDO_SIM_TIME_SCALE", float),
    "upload_max_bytes": ("LEONARDO_SIM_UPLOAD_MAX_BYTES", int),
    "upload_expiry_seconds": ("LEONARDO_SIM_UPLOAD_EXPIRY_SECONDS", float),
    "output_bytes": ("LEONARDO_SIM_OUTPUT_BYTES", int),
    "output_type": ("LEONARDO_SIM_OUTPUT_TYPE", str),
    "send_retry_after": ("LEONARDO_SIM_SEND_RETRY_AFTER", bool),
    "cost_unit": ("LEONARDO_SIM_COST_UNIT", str),
    "lcm_answer_seconds": ("LEONARDO_SIM_LCM_ANSWER_SECONDS", float),
}


def _parse(var: str, raw: str, kind: Any) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{var} must be a boolean, got {raw!r}")
    try:
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"{var}: cannot parse {raw!r} as {kind.__name__}") from exc
