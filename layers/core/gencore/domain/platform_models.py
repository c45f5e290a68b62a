"""Leonardo's platform models, as our API lists them: from a cache the reconciler refreshes.

A page view is not a Leonardo call, and nothing on the accept path calls Leonardo (DECISIONS.md):
`GET /v1/models` and the model name a job records both read the cache. The reconciler asks
Leonardo (`GET /platformModels`) once the cache is older than `refresh_seconds`; until the first
refresh the list is empty and jobs record no name.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .errors import LeonardoBusy
from .policy import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlatformModel:
    id: str
    name: str
    description: str | None = None
    featured: bool | None = None
    nsfw: bool | None = None


@dataclass(frozen=True)
class ModelList:
    models: tuple[PlatformModel, ...]
    refreshed_at: datetime


class ModelCache(Protocol):
    def load(self) -> ModelList | None: ...

    def save(self, models: ModelList) -> None: ...


class ModelSource(Protocol):
    def platform_models(self) -> list[PlatformModel]:
        """Leonardo's platform models (an account-level call). LeonardoBusy if it cannot answer."""


class PlatformModels:
    def __init__(
        self, cache: ModelCache, clock: Clock, *, refresh_seconds: int = 3600, memo_seconds: float = 300
    ) -> None:
        self._cache, self._clock = cache, clock
        self._refresh_seconds, self._memo_seconds = refresh_seconds, memo_seconds
        self._memo: tuple[float, ModelList | None] | None = None

    def list(self) -> list[PlatformModel]:
        models = self._cached()
        return list(models.models) if models else []

    def name_of(self, model_id: str | None) -> str | None:
        """The model's name, if the cache knows it (a warm function reads the cache once in a while)."""
        return next((m.name for m in self.list() if m.id == model_id), None)

    def refresh(self, source: ModelSource) -> bool:
        """Ask Leonardo again if the cache is older than `refresh_seconds`; True if it was refreshed."""
        cached = self._cache.load()
        now = self._clock()
        if cached and (now - cached.refreshed_at).total_seconds() < self._refresh_seconds:
            return False
        try:
            fresh = source.platform_models()
        except LeonardoBusy as busy:
            log.warning("platform models not refreshed", extra={"why": busy.message})
            return False
        if not fresh:
            return False  # an empty answer never replaces a list that had models
        self._cache.save(ModelList(models=tuple(fresh), refreshed_at=now))
        self._memo = None
        return True

    def forget(self) -> None:
        """Drop the memo (timed on time.monotonic, which a SnapStart restore does not move on)."""
        self._memo = None

    def _cached(self) -> ModelList | None:
        moment = time.monotonic()
        if self._memo is None or moment - self._memo[0] > self._memo_seconds:
            self._memo = (moment, self._cache.load())
        return self._memo[1]
