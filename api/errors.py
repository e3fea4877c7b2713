"""Typed errors. Every message is written for the user: what went wrong and what to do."""

from __future__ import annotations

from typing import Any


class LTX2Error(Exception):
    """Base of every error this package raises on purpose.

    ``raw`` keeps the provider's body (already redacted) for debugging; it is not part of str().
    """

    hint: str = ""
    #: The money facts of the error, declared by each class and overridable per instance:
    #: ``billed`` - the provider accepted (and may bill) the request; ``uncertain`` - the submit may
    #: have reached the provider without an answer, so it must never be resent.
    billed: bool = False
    uncertain: bool = False
    #: The journal id to give 'ltx2 jobs resume' when the job stays resumable (named by the CLI).
    resume_id: str | None = None

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        raw: Any = None,
        hint: str | None = None,
        journal_id: str | None = None,
        billed: bool | None = None,
        uncertain: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.raw = raw
        #: The journal record this error belongs to, for a resume hint (set by the runner).
        self.journal_id = journal_id
        if hint is not None:
            self.hint = hint
        if billed is not None:
            self.billed = billed
        if uncertain is not None:
            self.uncertain = uncertain

    def for_job(self, journal_id: str | None, *, billed: bool | None = None) -> LTX2Error:
        """Name the journal record this error belongs to (kept when already named) and, when the
        caller knows it, whether the provider accepted the job. Returns the error itself."""
        if self.journal_id is None:
            self.journal_id = journal_id
        if billed is not None:
            self.billed = billed
        return self

    def __str__(self) -> str:
        text = self.message
        if self.hint and self.hint not in text:
            text = f"{text} {self.hint}"
        return text


class ConfigError(LTX2Error):
    """Missing or unreadable configuration (e.g. no API key)."""


class MissingKeyError(ConfigError):
    pass


class BudgetExceededError(LTX2Error):
    """A submit was refused by the user's budget before anything was sent: nothing was billed."""

    hint = "Raise the cap with 'ltx2 config set-budget' (or in the LTX-2 sidebar), or wait for the next day or month."


class InvalidInputError(LTX2Error):
    """An input breaks a documented limit. Raised before any request is sent.

    ``field`` names the input, ``value`` the offending value, ``allowed`` what is allowed.
    """

    def __init__(
        self, field: str, value: Any, allowed: str, *, provider: str | None = None, reason: str | None = None
    ) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = (
            repr(value)
            if not isinstance(value, (int, float))
            else f"{value:g}"
            if isinstance(value, float)
            else str(value)
        )
        msg = f"Invalid input '{field}' = {shown}"
        if reason:
            msg += f": {reason}"
        msg += f". Allowed: {allowed}."
        super().__init__(msg, provider=provider)


class UnknownMediaLengthError(InvalidInputError):
    """A limit needs the length of a media input that is not known (yet): a URL not probed."""


class HostingError(LTX2Error):
    """An input could not be turned into a URI the provider accepts."""


class AuthError(LTX2Error):
    hint = "Check the API key (environment variable or the ltx2 config file)."


class PaymentError(LTX2Error):
    hint = "Add funds or credits to the provider account, then run again."


class RateLimitError(LTX2Error):
    hint = "The provider is rate limiting this account; wait and try again."

    def __init__(
        self, message: str, *, retry_after: float | None = None, kind: str = "rate", **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.kind = kind  # "rate" (requests per period) or "concurrency" (jobs running at once)


class ContentFilteredError(LTX2Error):
    hint = "Change the prompt or the input media."


class RequestTooLargeError(LTX2Error):
    hint = "Use smaller media (lower resolution, shorter, or more compressed)."


class ProviderError(LTX2Error):
    """The provider answered something unexpected or an error of its own (5xx, malformed body)."""


class NetworkError(LTX2Error):
    """The provider could not be reached or the connection broke."""


class SubmitUncertainError(LTX2Error):
    """A submit may have reached the provider but no answer came back.

    It is never resent automatically: it may have been accepted (and billed).
    """

    hint = (
        "The job may still have been accepted and billed: check 'ltx2 jobs list' and the "
        "provider's dashboard before running again."
    )
    billed = True
    uncertain = True


class JobFailedError(LTX2Error):
    """The provider ran the job and reports failure."""


class JobCancelledError(LTX2Error):
    """The job was cancelled (by the user or by the provider)."""


class JobExpiredError(LTX2Error):
    """The job or its output is gone (e.g. LTX jobs 24 h after they end, expired output URLs)."""


class PollTimeoutError(LTX2Error):
    hint = "The job is still recorded in the journal: resume it later with 'ltx2 jobs resume ID'."


class InterruptedError_(LTX2Error):
    """The user interrupted the wait. The job (if accepted) stays resumable in the journal."""


# Public, friendlier alias: the builtin InterruptedError is an OSError and must not be shadowed.
Interrupted = InterruptedError_


class DownloadError(LTX2Error):
    """The result could not be downloaded (truncated, too large, expired URL)."""


class ResultNotVideoError(DownloadError):
    """The provider's output URL answered something that is not the video (a web page, JSON, a cut-off
    or audio-only file). The job finished and is billed: it stays resumable."""

    billed = True


class StorageError(LTX2Error):
    """A file the pack keeps (the job journal, the result video) cannot be read or written.
    ``path`` names the file."""

    def __init__(self, message: str, *, path: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.path = path


class JournalError(StorageError):
    """The job journal is locked, corrupt, not a database, read-only or on a full disk."""


class UnfinishedSubmitError(LTX2Error):
    """An earlier run of the same request stopped (its process died) while its submit may have been
    accepted. It is never sent again without the user asking for a new take."""

    billed = True
    uncertain = True


class MediaError(LTX2Error):
    """Media could not be read, encoded or decoded."""
