"""The orphan sweep: generations of our account that no job owns are found and reported.

An orphan is money spent on nothing we deliver: a paid POST whose answer was lost and never
adopted, a job that failed `submit_outcome_unknown` while its generation went ahead, or someone
else using our key. The reconciler runs this sweep at most every `every_seconds`: it lists the
account's generations created since the last sweep reached (newest first) and reports each one
older than the grace period (an adoption may still be under way) that no job owns.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from .policy import Clock, OrphanPolicy, epoch
from .ports import JobStore, Leonardo, Orphan, OrphanStore, RemoteSummary
from .reconcile import ACCOUNT_CALLS, RESERVE_SECONDS, finish_before

log = logging.getLogger(__name__)


class OrphanSweep:
    def __init__(
        self,
        store: JobStore,
        orphans: OrphanStore,
        leonardo: Leonardo,
        clock: Clock,
        policy: OrphanPolicy | None = None,
        *,
        reserve_seconds: float = RESERVE_SECONDS,
    ) -> None:
        self._store, self._orphans, self._leonardo, self._clock = store, orphans, leonardo, clock
        self._policy, self._reserve = policy or OrphanPolicy(), reserve_seconds

    def run(self, *, ends_at: datetime | None = None) -> dict[str, int]:
        """Sweep if one is due and time allows. Returns {} when it did not run, else counts:
        `account_calls` (Leonardo list calls), `checked` (generations looked at), `orphans` (new
        orphans reported), `sweep_failed`/`sweep_unfinished` when Leonardo did not answer in time.
        Never raises: the reconciler's own report must not be lost to the sweep."""
        try:
            return self._run(ends_at)
        except Exception:
            log.exception("orphan sweep failed")
            return {"sweep_failed": 1}

    def _run(self, ends_at: datetime | None) -> dict[str, int]:
        now = self._clock()
        hard = ends_at - timedelta(seconds=self._reserve) if ends_at is not None else None
        if hard is not None and (hard - now).total_seconds() < self._policy.min_seconds:
            return {}
        claimed, reached = self._orphans.claim_sweep(now=now, every_seconds=self._policy.every_seconds)
        if not claimed:
            return {}
        since = reached or now - timedelta(seconds=self._policy.first_lookback_seconds)
        cutoff = now - timedelta(seconds=self._policy.grace_seconds)
        if cutoff <= since:
            return {"checked": 0, "orphans": 0}
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orphan-sweep")
        try:
            finished, listing = finish_before(
                pool, self._clock, hard, self._list, since, self._policy.limit_pages
            )
        except Exception as error:  # Leonardo busy, or no such call yet: the next sweep tries again
            log.warning(
                "orphan sweep could not list Leonardo's generations", extra={"error": type(error).__name__}
            )
            return {ACCOUNT_CALLS: 1, "sweep_failed": 1}
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        if not finished:
            log.warning("orphan sweep: Leonardo's list did not come in time")
            return {ACCOUNT_CALLS: 1, "sweep_unfinished": 1}
        checked = new = 0
        for summary in listing:
            if not since < summary.created_at <= cutoff:
                continue  # looked at before, or young enough to be adopted still
            checked += 1
            if self._store.job_for_generation(summary.id) is not None:
                continue
            orphan = Orphan(
                generation_id=summary.id, created_at=summary.created_at, status=summary.status,
                cost=summary.cost, found_at=now,
            )  # fmt: skip
            if self._orphans.record_orphan(orphan, expires_at=epoch(now) + self._policy.keep_seconds):
                new += 1
                log.warning(
                    "orphan generation: no job owns it",
                    extra={"generation_id": summary.id, "created_at": summary.created_at.isoformat(),
                           "generation_status": summary.status, "cost": summary.cost},
                )  # fmt: skip
        if listing and min(s.created_at for s in listing) > since:
            # Leonardo lists newest first, a page limit at a time: older ones may not have been seen.
            log.info("orphan sweep did not list back to where the last one reached",
                     extra={"since": since.isoformat(), "listed": len(listing)})  # fmt: skip
        self._orphans.finish_sweep(reached=cutoff)
        return {ACCOUNT_CALLS: 1, "checked": checked, "orphans": new}

    def _list(self, since: datetime, limit_pages: int) -> list[RemoteSummary]:
        return self._leonardo.recent_generations(since=since, limit_pages=limit_pages)
