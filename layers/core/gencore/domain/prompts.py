"""Prompt tools: improve a prompt, or draw a random one (Leonardo's `/prompt/improve` and
`/prompt/random`), synchronously for the caller.

Each call is paid, so it is rate limited per user (a token bucket) before anything is sent, sent
once, and never sent again after it may have reached Leonardo: an answer that does not say what
happened is reported to the caller (502 `leonardo_outcome_unknown`), who decides whether to ask
again. What each call cost is recorded in the user's daily usage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .errors import SubmitOutcomeUnknown
from .policy import Clock
from .rate_limits import BucketLimit, TokenBuckets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptAnswer:
    prompt: str
    credits: float | None  # what Leonardo reported it cost


class PromptTools(Protocol):
    def improve_prompt(self, prompt: str, instructions: str | None = None) -> PromptAnswer:
        """Raises SubmitOutcomeUnknown if the answer does not say what happened, LeonardoBusy if it
        was provably not sent (429), LeonardoRejected for good."""

    def random_prompt(self) -> PromptAnswer: ...


class UsageStore(Protocol):
    def record(self, user_id: str, *, day: str, what: str, credits: float | None) -> None:
        """Add one call of `what` and its credits to the user's usage for `day` (YYYY-MM-DD)."""


class Prompts:
    def __init__(
        self,
        leonardo: PromptTools,
        buckets: TokenBuckets,
        usage: UsageStore,
        clock: Clock,
        limit: BucketLimit,
    ) -> None:
        self._leonardo, self._buckets, self._usage = leonardo, buckets, usage
        self._clock, self._limit = clock, limit

    def improve(self, user_id: str, prompt: str, instructions: str | None = None) -> PromptAnswer:
        self._buckets.take(user_id, "prompts", self._limit)
        return self._paid(
            user_id, "prompt_improve", lambda: self._leonardo.improve_prompt(prompt, instructions)
        )

    def random(self, user_id: str) -> PromptAnswer:
        self._buckets.take(user_id, "prompts", self._limit)
        return self._paid(user_id, "prompt_random", self._leonardo.random_prompt)

    def _paid(self, user_id: str, what: str, call: Callable[[], PromptAnswer]) -> PromptAnswer:
        """One paid call, sent once; its usage recorded (cost unknown when the answer was lost)."""
        try:
            answer = call()
        except SubmitOutcomeUnknown:
            self._record(user_id, what, None)  # it may have been billed: counted, cost unknown
            raise
        self._record(user_id, what, answer.credits)
        return answer

    def _record(self, user_id: str, what: str, credits: float | None) -> None:
        try:
            self._usage.record(user_id, day=self._clock().date().isoformat(), what=what, credits=credits)
        except Exception:  # the caller paid and gets the answer; a lost usage line is logged, not raised
            log.exception("usage not recorded", extra={"what": what, "credits": credits})
