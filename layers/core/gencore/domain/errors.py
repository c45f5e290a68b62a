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
    """The submit request reached Leonardo but no answer came back: a generation may exist."""

    code = "leonardo_outcome_unknown"


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
