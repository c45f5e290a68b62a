"""What an unanswered paid POST did: looking for its generation in Leonardo's list, and adopting it.

Step 2 of the submit protocol (domain/submit.py). A POST whose answer never arrived (a timeout, a
5xx, an unreadable body, a submitter that died after sending) may have created a generation, and
been charged for it. It is found by every field Leonardo echoes (with the job's own seed) among the
generations created since the POST was noted, and recorded for the job (adopted); the job is sent
again only once the list has shown nothing for `submit_settle_seconds`.

Two kinds of caller look:
- the submitter holding the job's slot (or a job without one: looking needs no slot), which
  settles the question for good: adopt, wait and look again, send again, or fail;
- a submitter meeting the job while another one holds its slot under a live lease, once that
  holder's POST has gone unanswered for `submit_settle_seconds`: the holder most likely died after
  sending. It only ever adopts, under the holder's own claim (the fence), so the job does not wait
  for the lease to run out; anything less certain is left to the holder or to the lease's next one.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from .errors import (
    GenerationTaken,
    LeonardoBusy,
    LookupIncomplete,
    SourceUnavailable,
    TransitionConflict,
    UploadNotReady,
)
from .kinds import LeonardoCall, kind_of
from .models import Cost, Job
from .policy import Clock, Policy, epoch
from .ports import JobStore, Leonardo
from .waiting import Pools

log = logging.getLogger(__name__)


class SubmitResult(NamedTuple):
    # submitted | adopted | waiting | held | throttled | paused | uncertain | deferred | superseded
    # | failed | skipped | missing
    outcome: str
    cost: Cost | None = None  # what a successful POST cost, as Leonardo reported it


class UnansweredPosts:
    """The submitter's lookups of unanswered POSTs (mixed into Submitter, which provides the rest)."""

    _store: JobStore
    _leonardo: Leonardo
    _clock: Clock
    _policy: Policy
    _pools: Pools

    def _call(self, job: Job) -> LeonardoCall:
        raise NotImplementedError  # pragma: no cover - provided by Submitter

    def _fail(self, job: Job, code: str, message: str, **fields: Any) -> SubmitResult:
        raise NotImplementedError  # pragma: no cover - provided by Submitter

    def _release(self, job: Job, *, wake: bool = True) -> Job:
        raise NotImplementedError  # pragma: no cover - provided by Submitter

    def _wait(
        self, job: Job, attempt: int, token: int, retry_after: float | None, outcome: str
    ) -> SubmitResult:
        raise NotImplementedError  # pragma: no cover - provided by Submitter

    def _park(self, job: Job, token: int) -> SubmitResult:
        raise NotImplementedError  # pragma: no cover - provided by Submitter

    def _resolve(
        self, job: Job, attempt: int, token: int, *, retry_after: float | None = None
    ) -> SubmitResult | None:
        """Settle what an unanswered POST did. None means it created nothing: POST again."""
        since = job.submit_uncertain_since
        assert since is not None
        if not kind_of(job.kind).adopts:
            # Nothing at Leonardo can tell whether this call created its work: never send it again.
            return self._fail(job, "submit_outcome_unknown", "Leonardo's answer to the paid call was lost")
        waited = (self._clock() - since).total_seconds()
        try:
            found = self._leonardo.find_generations(self._call(job), since=since)
        except (UploadNotReady, SourceUnavailable) as gone:
            # The source went away while the POST's outcome is unknown: its generation, if any, is
            # still ours to find; without the source's id we cannot describe it. Fail, never resend.
            return self._fail(job, "submit_outcome_unknown", gone.message)
        except LookupIncomplete as incomplete:
            return self._fail(job, incomplete.code, incomplete.message)
        except LeonardoBusy as busy:  # cannot tell yet: never risk a second generation, look again later
            if waited > self._policy.max_job_age_seconds:
                return self._fail(job, "submit_outcome_unknown", "Leonardo's list never said what it did")
            delay = busy.retry_after or retry_after
            return self._wait(self._release(job), attempt, token, delay, "uncertain")
        unowned = [g for g in found if self._store.generation_owner(g) in (None, job.id)]
        if len(unowned) > 1 and job.request.get("seed") is not None:
            # The caller's seed: another job may share everything Leonardo echoes. Do not guess.
            return self._fail(
                job, "submit_outcome_unknown", f"{len(unowned)} generations match the unanswered request"
            )
        for generation_id in unowned:  # oldest first: a later one is a re-send's
            adopted = self._adopt(job, generation_id, extra=len(unowned) - 1)
            if adopted:
                return adopted
        if waited < self._policy.submit_settle_seconds:
            # Nothing yet, but a POST still in Leonardo's hands could show up: look again later.
            wait = max(self._policy.submit_settle_seconds - waited, retry_after or 0.0)
            return self._wait(self._release(job), attempt, token, wait, "uncertain")
        log.warning("unanswered POST created nothing; sending again", extra={"job_id": job.id})
        return None

    def _settled_nothing(self, job: Job, token: int) -> SubmitResult:
        """No slot, and the unanswered POST created nothing: wait in line to send it again."""
        try:
            job = self._store.end_uncertainty(job)
        except TransitionConflict:
            return SubmitResult("superseded")
        return self._park(job, token)

    def _adopt(self, job: Job, generation_id: str, *, extra: int) -> SubmitResult | None:
        now = self._clock()
        try:
            self._store.mark_submitted(
                job, generation_id=generation_id, cost=None, now=now,
                due_at=epoch(now) + self._policy.first_poll_seconds, pool=self._pools.of(job),
            )  # fmt: skip
        except GenerationTaken:
            return None  # recorded by another job meanwhile: not ours after all
        except TransitionConflict:
            return SubmitResult("superseded")
        log.warning(
            "adopted the generation of an unanswered POST",
            extra={"job_id": job.id, "generation_id": generation_id, "other_matches": extra},
        )
        return SubmitResult("adopted")

    def _look_while_held(self, job: Job, attempt: int, token: int) -> SubmitResult:
        """Another submitter holds the job's slot under a live lease. Its POST unanswered past
        `submit_settle_seconds` means that holder most likely died after sending: look for the
        generation now rather than when the lease runs out (the slot and the job's customer wait
        all that time). Read-only but for one case: exactly one match nobody owns is adopted, fenced
        on the holder's claim, so a holder still alive finds its answer recorded (domain/submit.py).
        Nothing found, several matches, or a list that cannot be read: left to the holder, or to
        the lease's next holder, which settles it with every rule of `_resolve`. If this message is
        the job's live one (the reconciler's, sent once the POST had settled), it keeps cycling: a
        holder alive after all stops its own at the next wait, and the job must never be left
        without one while its POST is unresolved."""
        since = job.submit_uncertain_since
        if since is None or not kind_of(job.kind).adopts:
            return SubmitResult("skipped")  # nothing unanswered, or nothing the list could show
        waited = (self._clock() - since).total_seconds()
        retry_after: float | None
        if waited < self._policy.submit_settle_seconds:  # its holder may still be waiting for the answer
            retry_after = self._policy.submit_settle_seconds - waited
        else:
            retry_after = None
            try:
                found = self._leonardo.find_generations(self._call(job), since=since)
            except (UploadNotReady, SourceUnavailable, LookupIncomplete):
                found = []
            except LeonardoBusy as busy:
                found, retry_after = [], busy.retry_after
            unowned = [g for g in found if self._store.generation_owner(g) in (None, job.id)]
            if len(unowned) == 1 and (adopted := self._adopt(job, unowned[0], extra=0)):
                return adopted
        if token != job.submit_token:
            return SubmitResult("skipped")  # a stale copy: the live message carries the job
        return self._wait(job, attempt, token, retry_after, "uncertain")
