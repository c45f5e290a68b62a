"""Deterministic fault decisions.

Each fault kind owns a `random.Random` seeded from (seed, kind): the n-th
decision for a kind depends only on the seed and n, so enabling one knob does
not change which requests another knob hits, and a rerun with the same seed
and the same request order injects the same faults.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Sequence

from .config import FaultConfig

KINDS = (
    "drop_callback",
    "duplicate_callback",
    "delay_callback",
    "http_429",
    "http_5xx",
    "failed_generation",
    "malformed_json",
    "http_5xx_after_create",
    "slow_answer_after_create",
    "malformed_create",
    "nsfw",
)


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        # set_faults() is called from test threads while the server loop rolls dice.
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._rngs = {kind: random.Random(f"{config.seed}:{kind}") for kind in KINDS}
            self._draws: Counter[str] = Counter()

    @property
    def config(self) -> FaultConfig:
        return self._config

    def roll(self, kind: str) -> bool:
        """True when the fault `kind` should fire now. A zero rate consumes no
        randomness, so a knob left at 0 never perturbs anything."""
        with self._lock:
            rate = getattr(self._config, f"{kind}_rate")
            if rate <= 0.0:
                return False
            self._draws[kind] += 1
            return self._rngs[kind].random() < rate

    def choose[T](self, kind: str, options: Sequence[T]) -> T:
        """One of `options`, drawn from the same generator as `kind`'s rolls (call it
        only after that kind fired, so a knob at 0 still draws nothing)."""
        with self._lock:
            self._draws[kind] += 1
            return self._rngs[kind].choice(options)

    def draws(self) -> dict[str, int]:
        """How many numbers each kind has drawn since the last (re)configure."""
        with self._lock:
            return {kind: self._draws[kind] for kind in KINDS}
