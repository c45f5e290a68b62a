"""The account breaker: when Leonardo refuses our account itself, hold every submit and say so.

A wrong or revoked key, or an account out of credits, is not one job's problem: every submit
would fail the same way, forever and silently. The first submit that meets it trips the guard
(one DynamoDB item); from then on submitters hold jobs in the waiting line instead of calling
Leonardo, the reconciler reports `LeonardoAccountBlocked` (alarmed) and probes the account with
backoff, and the first good probe clears the block and the waiting line moves again. Jobs held
longer than the hold limit fail with `leonardo_unavailable` rather than wait forever.

The guard also keeps the account's create **pause**: Leonardo refusing a create for its rate (429)
refuses every create until its window opens, so the first 429 pauses them all for its Retry-After
(or `Policy.rate_pause_seconds`), and nothing is sent, or woken to be sent, before that.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import datetime, timedelta

from .policy import AccountPolicy, Clock
from .ports import AccountBlock, AccountStateStore, AccountStatus, Leonardo

log = logging.getLogger(__name__)

AUTH = "leonardo_auth"  # our API key is wrong or revoked
CREDITS = "leonardo_credits"  # the account has no API credits left
REASONS = frozenset({AUTH, CREDITS})
UNAVAILABLE = "leonardo_unavailable"  # the error code of a job failed after the hold

__all__ = ["AUTH", "CREDITS", "REASONS", "UNAVAILABLE", "AccountBlock", "AccountGuard", "AccountPolicy"]


class AccountGuard:
    """Whether Leonardo accepts our account; tripped by submitters, probed and cleared by the reconciler."""

    def __init__(self, store: AccountStateStore, clock: Clock, policy: AccountPolicy | None = None) -> None:
        self._store, self._clock, self._policy = store, clock, policy or AccountPolicy()
        self._lock = threading.Lock()
        self._cached: tuple[datetime, AccountBlock | None] | None = None  # (read at, answer)
        self._pause: tuple[datetime, datetime | None] | None = None  # (read at, paused until)

    @property
    def policy(self) -> AccountPolicy:
        return self._policy

    def blocked(self, *, fresh: bool = False) -> AccountBlock | None:
        """The account's block, or None when submits may go ahead.

        Answers from memory for `cache_seconds` after a read (a submitter asks once per job);
        `fresh` always reads the item.
        """
        now = self._clock()
        with self._lock:
            cached = self._cached
        if not fresh and cached is not None and self._recent(cached[0], now):
            return cached[1]
        block = self._store.load()
        self._remember(now, block)
        return block

    def trip(self, reason: str) -> AccountBlock:
        """Block the account for `reason` (leonardo_auth | leonardo_credits). Idempotent: a block
        already stored stays as it is, its `since` included, and is returned."""
        if reason not in REASONS:
            raise ValueError(f"unknown account block reason {reason!r}")
        now = self._clock()
        wanted = AccountBlock(
            reason=reason, since=now, next_probe_at=now + timedelta(seconds=self._policy.probe_first_seconds)
        )
        block = self._store.trip(wanted)
        if block == wanted:
            log.error(
                "Leonardo refuses our account: submits are held",
                extra={"reason": reason, "next_probe_at": block.next_probe_at.isoformat()},
            )
        self._remember(now, block)
        return block

    def probe(self, leonardo: Leonardo) -> bool:
        """Ask Leonardo about the account if a block is due for a probe; True when submits may go
        ahead (no block, or the block was cleared). A failed probe backs the next one off."""
        block = self.blocked(fresh=True)
        if block is None:
            return True
        now = self._clock()
        if now < block.next_probe_at:
            return False
        status = self._ask(leonardo)
        if status is not None and status.ok:
            cleared = self._store.clear(block.since)
            log.warning(
                "Leonardo accepts our account again: submits resume",
                extra={"reason": block.reason, "blocked_seconds": int((now - block.since).total_seconds()),
                       "credits": status.credits, "cleared": cleared},
            )  # fmt: skip
            if not cleared:  # tripped anew meanwhile: that block stands
                return self.blocked(fresh=True) is None
            self._remember(now, None)
            return True
        reason = status.reason if status is not None and status.reason in REASONS else block.reason
        probes = block.probes + 1
        later = replace(
            block,
            reason=reason,
            probes=probes,
            next_probe_at=now + timedelta(seconds=self._policy.probe_delay(probes)),
        )
        if self._store.update(later):
            self._remember(now, later)
        log.warning(
            "Leonardo still refuses our account",
            extra={"reason": reason, "probes": probes, "next_probe_at": later.next_probe_at.isoformat()},
        )
        return False

    def pause(self, seconds: float) -> datetime:
        """Leonardo refused a create for its rate: no create before `seconds` from now (a later pause
        already stored stands). Returns the end of the pause."""
        now = self._clock()
        until = self._store.pause(now + timedelta(seconds=seconds))
        with self._lock:
            self._pause = (now, until)
        log.info("creates paused for Leonardo's rate", extra={"until": until.isoformat()})
        return until

    def paused_for(self) -> float:
        """Seconds until creates may be sent again (0 when they may go now). Answers from memory for
        `cache_seconds` after a read, like blocked()."""
        now = self._clock()
        with self._lock:
            cached = self._pause
        if cached is None or not self._recent(cached[0], now):
            cached = (now, self._store.paused_until())
            with self._lock:
                self._pause = cached
        until = cached[1]
        return max(0.0, (until - now).total_seconds()) if until is not None else 0.0

    def hold_over(self, block: AccountBlock) -> bool:
        """The block has lasted longer than jobs are held: the held jobs fail."""
        return (self._clock() - block.since).total_seconds() > self._policy.hold_max_seconds

    def _ask(self, leonardo: Leonardo) -> AccountStatus | None:
        try:
            return leonardo.account()
        except Exception as error:  # busy, down, or refusing outright: no verdict is a failed probe
            reason = getattr(error, "reason", None)
            if reason in REASONS:
                return AccountStatus(ok=False, reason=reason)
            log.warning("Leonardo account probe got no answer", extra={"error": type(error).__name__})
            return None

    def forget(self) -> None:
        """Drop the remembered answer: the next blocked() reads the item (after a SnapStart restore)."""
        with self._lock:
            self._cached = self._pause = None

    def _recent(self, read_at: datetime, now: datetime) -> bool:
        """Whether an answer read at `read_at` may still be given from memory (`cache_seconds`)."""
        return timedelta(0) <= now - read_at < timedelta(seconds=self._policy.cache_seconds)

    def _remember(self, now: datetime, block: AccountBlock | None) -> None:
        with self._lock:
            self._cached = (now, block)
