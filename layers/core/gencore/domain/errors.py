"""Typed domain errors. Each carries a stable machine code; HTTP mapping lives in one place (api handler)."""


class DomainError(Exception):
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidRequest(DomainError):
    code = "invalid_request"


class JobNotFound(DomainError):
    code = "not_found"


class InvalidCursor(DomainError):
    code = "invalid_cursor"


class TransitionConflict(DomainError):
    """A conditional write lost: the job is not in the state the caller expected."""

    code = "transition_conflict"


class GenerationTaken(TransitionConflict):
    """The generation is already recorded as another job's: never adopt it."""

    code = "generation_taken"


class NoSlotAvailable(DomainError):
    code = "no_slot_available"


class OutputRejected(DomainError):
    """An output URL or its response is not acceptable (host not allow-listed, wrong type, too large)."""

    code = "output_rejected"


class OutputUnavailable(DomainError):
    """Fetching an output failed in a way that may succeed later (CDN 5xx, timeout)."""

    code = "output_unavailable"


class GenerationNotReady(DomainError):
    """An event said finished, but Leonardo's own record is still PENDING."""

    code = "generation_not_ready"


class AlreadyRecovered(DomainError):
    """A callback for a job the reconciler has already recovered: it read the finished generation
    from Leonardo and sent that record as an event of its own, which finishes the job."""

    code = "already_recovered"


class UnknownGeneration(DomainError):
    """An event names a Leonardo generation we have no job for (yet)."""

    code = "unknown_generation"


class LeonardoBusy(DomainError):
    """Leonardo is rate limiting or temporarily failing: keep the job and try later."""

    code = "leonardo_busy"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SubmitOutcomeUnknown(LeonardoBusy):
    """The paid POST may have reached Leonardo, and its answer does not say what happened (none
    came, a 5xx, an unreadable 2xx): a generation may exist, and is looked for before any re-send."""

    code = "leonardo_outcome_unknown"


class AccountRefused(LeonardoBusy):
    """Leonardo refuses our account itself: the API key (after re-reading it) or the credits.
    Every job would meet the same answer: an operator's problem, held behind the account guard."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # leonardo_auth | leonardo_credits
        self.code = reason


class IdenticalRequestInFlight(LeonardoBusy):
    """Another job's POST of a request Leonardo would echo identically is still unanswered: sending
    ours now would make the two generations impossible to tell apart. Wait for it to resolve."""

    code = "identical_request_in_flight"


class LookupIncomplete(DomainError):
    """Leonardo's list could not be read back far enough to know what an unanswered POST did."""

    code = "submit_outcome_unknown"


class LeonardoRejected(DomainError):
    """Leonardo refused the request for good (validation, auth, content): the job fails with this reason."""

    code = "leonardo_rejected"


class GenerationMissing(DomainError):
    """Leonardo does not know the generation (deleted, or never created)."""

    code = "generation_missing"


class UploadNotFound(DomainError):
    code = "not_found"  # the same answer as for any id that does not exist for the caller


class UploadNotReady(DomainError):
    """The upload exists but cannot be used (yet): not uploaded, not checked, or rejected."""

    code = "upload_not_ready"


class UploadRejected(DomainError):
    """The uploaded file is not acceptable; `code` says why (stable, documented)."""

    code = "upload_rejected"


class SourceNotUsable(InvalidRequest):
    """The job or image a request names is not one the caller can use (unknown, another user's,
    not COMPLETE, no such image): one answer for every case, so it tells nothing of other users."""

    code = "source_not_usable"


class SourceUnavailable(DomainError):
    """A job's source went away after it was accepted (deleted): the job cannot be started."""

    code = "source_unavailable"


class NotDeletable(DomainError):
    """DELETE of a job that has not ended yet (cancel it first)."""

    code = "not_deletable"


class NotCancellable(DomainError):
    """Cancel of a job Leonardo may already have (or that has ended)."""

    code = "not_cancellable"


class PlanLimit(InvalidRequest):
    """A request over one of its plan's caps: 422 `plan_limit`, `details.cap` naming the cap (and
    `details.limit` where it is a number). Never a silent clamp."""

    code = "plan_limit"

    def __init__(self, cap: str, message: str, *, limit: int | None = None) -> None:
        super().__init__(f"{cap}: {message}")
        self.cap, self.limit = cap, limit

    @property
    def details(self) -> dict[str, str | int]:
        return {"cap": self.cap} | ({"limit": self.limit} if self.limit is not None else {})


class ContentPolicyViolation(InvalidRequest):
    """A prompt matched a rule of the content policy: 422 `content_policy`, `details.rule_class`
    naming the class of rule and `details.field` the field. Never echoes what matched."""

    code = "content_policy"

    def __init__(self, rule_class: str, field: str) -> None:
        super().__init__(f"The {field.replace('_', ' ')} is refused by the content policy ({rule_class})")
        self.rule_class, self.field = rule_class, field

    @property
    def details(self) -> dict[str, str]:
        return {"rule_class": self.rule_class, "field": self.field}


class TooManyWaiting(DomainError):
    """429 `too_many_waiting`: the user has as many jobs waiting as their plan allows. No
    Retry-After: waiting does not help until some of those jobs start or end."""

    code = "too_many_waiting"


class BatchNotFound(DomainError):
    """Unknown, or another user's: the same answer (it tells nothing of other users)."""

    code = "not_found"


class BatchInvalid(DomainError):
    """422 `batch_invalid`: lines of the batch were refused; `details` lists each (line number,
    custom_id, code, message), at most the first domain.batches.MAX_REPORTED_PROBLEMS."""

    code = "batch_invalid"

    def __init__(self, message: str, *, lines: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.details = lines
