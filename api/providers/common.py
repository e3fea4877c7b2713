"""Functions shared by the provider modules: input validation, tolerant body lookups, HTTP error
mapping, and the LTX list prices. Pure functions: no I/O."""

from __future__ import annotations

import dataclasses
import email.utils
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import (
    AuthError,
    ContentFilteredError,
    InvalidInputError,
    JobExpiredError,
    LTX2Error,
    PaymentError,
    ProviderError,
    RateLimitError,
    RequestTooLargeError,
)
from ..redact import redact, redact_text
from ..types import MEDIA_FIELDS, GenerationRequest, JobState, JobStatus, MediaInput, MediaKind, SubmittedJob
from .base import MediaLimits

if TYPE_CHECKING:
    from .base import Provider

# Every request field a user can set, in the order refusals are checked. Seed is left out: every
# provider accepts it (it asks for a fresh take), only some send it.
REQUEST_FIELDS: tuple[str, ...] = tuple(
    f.name
    for f in dataclasses.fields(GenerationRequest)
    if f.name not in ("provider", "mode", "model", "seed")
)

# --- validation -------------------------------------------------------------------------------------

_MISSING = object()


def fmt_value(value: Any) -> str:
    """A number as the user typed it (6.0 -> "6"), anything else as str()."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def fmt_allowed(values: Iterable[Any]) -> str:
    return ", ".join(fmt_value(v) for v in values)


def one_of(
    field: str, value: Any, allowed: Sequence[Any], *, provider: str | None = None, reason: str | None = None
) -> Any:
    """``value`` must be one of ``allowed`` (numbers compare by value: 6 == 6.0)."""
    if value not in allowed:
        raise InvalidInputError(field, value, fmt_allowed(allowed), provider=provider, reason=reason)
    return value


def in_range(
    field: str,
    value: float,
    lo: float | None,
    hi: float | None,
    *,
    provider: str | None = None,
    unit: str = "",
    reason: str | None = None,
    integer: bool = False,
) -> float:
    """``lo <= value <= hi`` (either bound may be None); ``integer`` also requires a whole number."""
    suffix = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        allowed = f"{fmt_value(lo)} to {fmt_value(hi)}{suffix}"
    elif lo is not None:
        allowed = f"at least {fmt_value(lo)}{suffix}"
    elif hi is not None:
        allowed = f"at most {fmt_value(hi)}{suffix}"
    else:
        allowed = "any number"
    if integer:
        allowed = f"a whole number, {allowed}" if (lo is not None or hi is not None) else "a whole number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(field, value, allowed, provider=provider, reason=reason or "not a number")
    if integer and not float(value).is_integer():
        raise InvalidInputError(
            field, value, allowed, provider=provider, reason=reason or "not a whole number"
        )
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidInputError(field, value, allowed, provider=provider, reason=reason)
    return value


def required(
    field: str,
    value: Any,
    *,
    provider: str | None = None,
    reason: str | None = None,
    allowed: str = "a value",
) -> Any:
    """``value`` must be set (not None, not an empty or blank string)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInputError(field, value, allowed, provider=provider, reason=reason or "required")
    return value


def check_prompt(
    prompt: str | None,
    *,
    provider: str | None = None,
    required_: bool = False,
    max_chars: int | None = None,
    reason: str | None = None,
) -> str:
    """Prompt presence and length. Returns the prompt with surrounding blanks removed."""
    text = (prompt or "").strip()
    if required_ and not text:
        raise InvalidInputError(
            "prompt",
            prompt or "",
            "a non-empty text",
            provider=provider,
            reason=reason or "a prompt is required",
        )
    if max_chars is not None and len(text) > max_chars:
        raise InvalidInputError(
            "prompt",
            f"{len(text)} characters",
            f"at most {max_chars} characters",
            provider=provider,
            reason="the prompt is too long",
        )
    return text


def refuse_if_set(
    req: GenerationRequest, fields: Iterable[str], *, provider: str | None = None, context: str = ""
) -> None:
    """Refuse each of ``fields`` that the user set: this mode (or provider) cannot take it.
    Blank prompts count as unset."""
    for name in fields:
        value = getattr(req, name, None)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        shown: Any = value
        if isinstance(value, MediaInput):
            shown = value.url or value.filename or f"{value.kind.value} input"
        raise InvalidInputError(
            name,
            shown,
            "leave it unset",
            provider=provider,
            reason=context or f"{req.mode.value} does not take it",
        )


# Content-type spellings seen in the wild -> the canonical one.
_TYPE_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/mpeg3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/x-mpeg": "audio/mpeg",
    "audio/m4a": "audio/mp4",
    "audio/x-m4a": "audio/mp4",
    "application/ogg": "audio/ogg",
    "audio/vorbis": "audio/ogg",
    "audio/opus": "audio/ogg",
    "audio/x-flac": "audio/flac",
    "video/mkv": "video/x-matroska",
    "video/matroska": "video/x-matroska",
    "video/mov": "video/quicktime",
    "video/x-quicktime": "video/quicktime",
}
# MediaInfo.format -> canonical content type per kind (used when the content type says nothing).
_TYPE_OF_FORMAT = {
    MediaKind.IMAGE: {
        "png": "image/png",
        "jpeg": "image/jpeg",
        "jpg": "image/jpeg",
        "webp": "image/webp",
        "gif": "image/gif",
    },
    MediaKind.AUDIO: {
        "wav": "audio/wav",
        "mp3": "audio/mpeg",
        "ogg": "audio/ogg",
        "m4a": "audio/mp4",
        "mp4": "audio/mp4",
        "aac": "audio/aac",
        "flac": "audio/flac",
    },
    MediaKind.VIDEO: {
        "mp4": "video/mp4",
        "mov": "video/quicktime",
        "mkv": "video/x-matroska",
        "webm": "video/webm",
    },
}
_GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream")


def canonical_content_type(content_type: str) -> str:
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return _TYPE_ALIASES.get(base, base)


def media_content_type(media: MediaInput) -> str | None:
    """The canonical content type of a media input, or None when nothing tells it."""
    ctype = canonical_content_type(media.content_type)
    if ctype not in _GENERIC_TYPES:
        return ctype
    fmt = (media.info.format or "").lower()
    return _TYPE_OF_FORMAT.get(media.kind, {}).get(fmt)


_SHORT_NAMES = {
    "audio/mpeg": "MP3",
    "audio/mp4": "M4A",
    "audio/aac": "AAC",
    "video/quicktime": "MOV",
    "video/x-matroska": "MKV",
}


def _short_types(types: Iterable[str]) -> str:
    names = (_SHORT_NAMES.get(t) or t.split("/", 1)[-1].removeprefix("x-").upper() for t in types)
    return ", ".join(dict.fromkeys(names))


def check_media_type(
    field: str, media: MediaInput, limits: MediaLimits, *, provider: str | None = None
) -> None:
    """The media's content type must be one the provider accepts (skipped when unknown)."""
    ctype = media_content_type(media)
    if ctype is None:
        return
    accepted = {canonical_content_type(t) for t in limits.content_types}
    if ctype not in accepted:
        raise InvalidInputError(
            field,
            ctype,
            _short_types(dict.fromkeys(canonical_content_type(t) for t in limits.content_types)),
            provider=provider,
            reason="this file format is not accepted",
        )


def _mb(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


def check_media_size(
    field: str,
    media: MediaInput,
    limits: MediaLimits,
    *,
    provider: str | None = None,
    hosting: str | None = None,
) -> None:
    """Bytes inputs must fit the provider's limit (the data-URI limit when hosting is "data-uri").
    URL inputs have no known size here and pass."""
    size = media.size
    if size is None:
        return
    limit = limits.max_bytes_data_uri if hosting == "data-uri" else limits.max_bytes_url
    if hosting == "data-uri" and limit is None:
        limit = limits.max_bytes_url
    if limit is not None and size > limit:
        how = "as a data URI" if hosting == "data-uri" else "by URL or upload"
        raise InvalidInputError(
            field, _mb(size), f"at most {_mb(limit)} {how}", provider=provider, reason="the file is too large"
        )


def check_media_duration(
    field: str,
    media: MediaInput,
    lo: float | None,
    hi: float | None,
    *,
    provider: str | None = None,
    tolerance: float = 0.05,
) -> float | None:
    """Duration of an audio/video input within [lo, hi] seconds (a small tolerance absorbs container
    rounding). Unknown duration (``info.duration`` None) is skipped: the runner probes URLs it can.
    Returns the duration or None."""
    duration = media.info.duration
    if duration is None:
        return None
    lo_t = None if lo is None else lo - tolerance
    hi_t = None if hi is None else hi + tolerance
    if (lo_t is not None and duration < lo_t) or (hi_t is not None and duration > hi_t):
        if lo is not None and hi is not None:
            allowed = f"{fmt_value(lo)} to {fmt_value(hi)} s long"
        elif lo is not None:
            allowed = f"at least {fmt_value(lo)} s long"
        else:
            allowed = f"at most {fmt_value(hi)} s long"
        raise InvalidInputError(
            field,
            f"{duration:.2f} s",
            allowed,
            provider=provider,
            reason=f"the {media.kind.value} has the wrong length",
        )
    return duration


def frame_slack(media: MediaInput) -> float:
    """One frame of a video in seconds (1/25 s when its rate is unknown): the rounding allowed when a
    section must lie inside the video."""
    fps = media.info.fps
    return 1.0 / fps if fps else 0.04


def check_media_dimensions(
    field: str, media: MediaInput, max_long: int, max_short: int, *, provider: str | None = None
) -> None:
    """Width x height at most ``max_long`` x ``max_short`` in either orientation (skipped when unknown)."""
    w, h = media.info.width, media.info.height
    if w is None or h is None:
        return
    if max(w, h) > max_long or min(w, h) > max_short:
        raise InvalidInputError(
            field,
            f"{w}x{h}",
            f"at most {max_long}x{max_short} (or {max_short}x{max_long})",
            provider=provider,
            reason="the video is too large",
        )


def check_media_kind(field: str, media: MediaInput, kind: MediaKind, *, provider: str | None = None) -> None:
    if media.kind != kind:
        raise InvalidInputError(
            field,
            media.kind.value,
            kind.value,
            provider=provider,
            reason=f"'{field}' takes {kind.value} media",
        )


def check_seed(
    seed: int | None, *, provider: str | None = None, lo: int = -(2**63), hi: int = 2**63 - 1
) -> None:
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInputError("seed", seed, "a whole number", provider=provider)
    in_range("seed", seed, lo, hi, provider=provider, integer=True)


def check_request_fields_and_media(
    provider: Provider,
    req: GenerationRequest,
    allowed_fields: set[str],
    *,
    seed_range: tuple[int, int] = (-(2**63), 2**63 - 1),
    video_max_bytes: int | None = None,
) -> None:
    """The checks every provider starts with: fields the mode does not take (when the user set them),
    the seed, and each media input's kind, content type and size (``video_max_bytes`` replaces the
    video limit for a mode that takes larger videos)."""
    p = provider.name
    refuse_if_set(
        req,
        [f for f in REQUEST_FIELDS if f not in allowed_fields],
        provider=p,
        context=f"{provider.display_name} {req.mode.value} does not take it",
    )
    check_seed(req.seed, provider=p, lo=seed_range[0], hi=seed_range[1])
    for name, media in req.media().items():
        kind = MEDIA_FIELDS[name]
        limits = provider.media_limits(kind)
        if kind is MediaKind.VIDEO and video_max_bytes is not None:
            limits = dataclasses.replace(limits, max_bytes_url=video_max_bytes)
        check_media_kind(name, media, kind, provider=p)
        check_media_type(name, media, limits, provider=p)
        check_media_size(name, media, limits, provider=p)


def check_bool(field: str, value: Any, *, provider: str | None = None) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidInputError(field, value, "true or false", provider=provider)


def wire_number(value: float) -> int | float:
    """6.0 -> 6 (integers stay integers on the wire), 2.5 -> 2.5."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def media_uri(name: str, media: MediaInput, uris: Mapping[str, str], *, provider: str | None = None) -> str:
    """The hosted URI for a media field; a URL input the caller did not host passes through."""
    uri = uris.get(name) or media.url
    if not uri:
        from ..errors import HostingError

        raise HostingError(
            f"The {name} input has not been hosted yet: no URI to send to the provider.", provider=provider
        )
    return uri


# --- tolerant body lookups ------------------------------------------------------------------------

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def lookup(body: Any, path: str, default: Any = None) -> Any:
    """Value at a dotted path: ``"outcome.media_urls[0].url"`` (``media_urls.0.url`` also works).
    Missing keys, wrong types and out-of-range indexes give ``default``."""
    current = body
    for name, index in _PATH_PART.findall(path):
        if index:
            key: Any = int(index)
        elif name.isdigit() and isinstance(current, list):
            key = int(name)
        else:
            key = name
        if isinstance(key, int):
            if not isinstance(current, list) or not -len(current) <= key < len(current):
                return default
            current = current[key]
        elif isinstance(current, Mapping) and key in current:
            current = current[key]
        else:
            return default
    return current


def first_present(body: Any, paths: Iterable[str], *, accept: Any = None) -> tuple[str, Any] | None:
    """The first (path, value) whose value is set (not None, not blank) and, when ``accept`` is
    given, passes ``accept(value)``."""
    for path in paths:
        value = lookup(body, path, _MISSING)
        if value is _MISSING or value is None or (isinstance(value, str) and not value.strip()):
            continue
        if accept is not None and not accept(value):
            continue
        return path, value
    return None


def is_url(value: Any) -> bool:
    return isinstance(value, str) and bool(re.match(r"(?i)^(https?://|storage://|data:)", value.strip()))


def find_url(body: Any, paths: Iterable[str]) -> str | None:
    found = first_present(body, paths, accept=is_url)
    return found[1].strip() if found else None


def status_word(value: Any) -> str:
    """Normalise a provider status word: "IN_PROGRESS", "In Progress", "in-progress" -> "in_progress"."""
    return re.sub(r"[\s\-]+", "_", str(value).strip()).lower()


def map_status(word: Any, table: Mapping[str, JobState]) -> JobState | None:
    """JobState for a status word in any case (table keys are normalised words), else None."""
    if word is None or isinstance(word, (dict, list)):
        return None
    return table.get(status_word(word))


def message_text(value: Any) -> str | None:
    """A human message from a string, or from a dict holding ``message``/``detail``/``error``."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, Mapping):
        for key in ("message", "msg", "detail", "error", "reason", "description"):
            text = message_text(value.get(key))
            if text:
                return text
    if isinstance(value, list):
        parts = [t for t in (message_text(v) for v in value) if t]
        return "; ".join(parts) or None
    return None


def find_message(body: Any, paths: Iterable[str]) -> str | None:
    """The first readable message found at any of ``paths``."""
    for path in paths:
        text = message_text(lookup(body, path))
        if text:
            return text
    return None


def parse_progress(value: Any) -> float | None:
    """0..1 from 0..1 or 0..100 numbers (or "42%"); anything else None."""
    if isinstance(value, str):
        value = value.strip().rstrip("%")
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    fraction = value / 100.0 if value > 1 else float(value)
    return min(max(fraction, 0.0), 1.0)


def short_body(body: Any, limit: int = 600) -> str:
    """Redacted one-line text of a body for error messages."""
    import json

    safe = redact(body)
    try:
        text = safe if isinstance(safe, str) else json.dumps(safe, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(safe)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unexpected_body(display: str, provider: str, what: str, body: Any) -> ProviderError:
    """ProviderError for an answer that could not be understood, keeping the redacted body."""
    return ProviderError(
        f"{display} sent an answer without {what}: {short_body(body)}", provider=provider, raw=redact(body)
    )


# --- HTTP errors ------------------------------------------------------------------------------------


def _is_job_id(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def parse_job_id(
    provider: Provider,
    req: GenerationRequest,
    body: Any,
    paths: Iterable[str],
    *,
    noun: str = "job",
    model: str | None = None,
) -> SubmittedJob:
    """The job handle from a submit answer: the first id found at ``paths``."""
    found = first_present(body, paths, accept=_is_job_id)
    if found is None:
        raise unexpected_body(provider.display_name, provider.name, f"a {noun} id", body)
    return SubmittedJob(
        provider=provider.name,
        mode=req.mode,
        job_id=str(found[1]),
        model=model or provider.resolve_model(req).name,
    )


@dataclasses.dataclass(frozen=True)
class StatusShape:
    """Where one provider's status answer keeps each fact (the provider module's tables)."""

    status_paths: tuple[str, ...]
    table: Mapping[str, JobState]
    url_paths: tuple[str, ...]
    failure_paths: tuple[str, ...]
    progress_paths: tuple[str, ...] = ()
    noun: str = "job"


def parse_job_status(
    provider: Provider,
    body: Any,
    shape: StatusShape,
    *,
    extra_reason: Callable[[Any], str | None] | None = None,
) -> JobStatus:
    """One status answer in neutral form. An unknown status word or a finished job without a video
    URL is a ProviderError quoting the (redacted) body; a failure reason is looked for wherever the
    provider may put it (``extra_reason`` is a last place to look)."""
    found = first_present(body, shape.status_paths, accept=lambda v: v is not None)
    word = found[1] if found else None
    state = map_status(word, shape.table)
    safe = redact(body)
    if state is None:
        raise ProviderError(
            f"{provider.display_name} reported an unknown {shape.noun} status {word!r}: {short_body(body)}",
            provider=provider.name,
            raw=safe,
        )
    if state == JobState.SUCCEEDED:
        url = find_url(body, shape.url_paths)
        if url is None:
            raise unexpected_body(
                provider.display_name, provider.name, f"the video URL of the finished {shape.noun}", body
            )
        return JobStatus(state=state, raw_status=str(word), video_url=url, progress=1.0, raw=safe)
    progress_found = first_present(body, shape.progress_paths, accept=lambda v: v is not None)
    progress = parse_progress(progress_found[1] if progress_found else None)
    error = None
    if state in (JobState.FAILED, JobState.CANCELLED):
        error = find_message(body, shape.failure_paths)
        if error is None and extra_reason is not None:
            error = extra_reason(body)
        if error is None and state == JobState.FAILED:
            error = f"{provider.display_name} gave no reason: {short_body(body)}"
        error = redact_text(error) if error else None
    return JobStatus(state=state, raw_status=str(word), error=error, progress=progress, raw=safe)


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup on any mapping."""
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if str(key).lower() == lowered:
            return val
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta seconds or an HTTP date."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


# Error type words (any provider) that name a specific error class; checked by substring.
_TYPE_HINTS: tuple[tuple[tuple[str, ...], type[LTX2Error]], ...] = (
    (("auth", "unauthori", "permission", "api_key", "invalid_key"), AuthError),
    (("fund", "credit", "quota", "payment", "balance", "billing"), PaymentError),
    (("rate_limit", "concurrency", "too_many"), RateLimitError),
    (("content_filter", "moderation", "safety", "nsfw"), ContentFilteredError),
    (("too_large", "payload_large", "entity_too_large"), RequestTooLargeError),
    (("not_found",), JobExpiredError),
)


def class_for_type(error_type: str | None) -> type[LTX2Error] | None:
    word = status_word(error_type or "")
    if not word:
        return None
    for needles, cls in _TYPE_HINTS:
        if any(n in word for n in needles):
            return cls
    return None


def class_for_status(status: int) -> type[LTX2Error]:
    if status in (401, 403):
        return AuthError
    if status == 402:
        return PaymentError
    if status == 413:
        return RequestTooLargeError
    if status == 422:
        return ContentFilteredError
    if status == 429:
        return RateLimitError
    return ProviderError


_BODY_MESSAGE_PATHS = (
    "error.message",
    "error",
    "message",
    "detail",
    "msg",
    "errors",
    "data.message",
    "data.error",
)


def error_message_from_body(body: Any) -> str | None:
    """The provider's own message from an error body of any common shape (or plain text)."""
    if isinstance(body, (str, bytes)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        text = " ".join(text.split())
        return text[:500] or None
    return find_message(body, _BODY_MESSAGE_PATHS)


_LEADS = {
    AuthError: "rejected the API key",
    PaymentError: "says the account has insufficient funds or credits",
    RequestTooLargeError: "refused the request as too large",
    ContentFilteredError: "refused the content (content filter)",
    RateLimitError: "is rate limiting this account",
    JobExpiredError: "no longer has this job",
    ProviderError: "refused the request",
}


def error_from_http(
    provider: str,
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
    message: str | None = None,
    *,
    display_name: str | None = None,
    error_type: str | None = None,
    cls: type[LTX2Error] | None = None,
    note: str | None = None,
) -> LTX2Error:
    """A typed error for an HTTP error answer.

    400 -> ProviderError (the server refused the input), 401/403 -> AuthError, 402 -> PaymentError,
    413 -> RequestTooLargeError, 422 -> ContentFilteredError, 429 -> RateLimitError (with
    ``retry_after``), 5xx and anything else -> ProviderError. ``message`` is the provider's own text
    (found in the body when None); ``error_type`` may refine a plain 400/other status; ``cls`` forces
    the class; ``note`` is appended. The message and ``raw`` are redacted.
    """
    display = display_name or provider
    chosen = cls or class_for_status(status)
    if cls is None and chosen is ProviderError and status < 500:
        chosen = class_for_type(error_type) or chosen
        if chosen is JobExpiredError and status not in (404, 410):
            chosen = ProviderError
    server_text = message or error_message_from_body(body)
    if chosen is ProviderError and status >= 500:
        lead = f"{display} had a server error (HTTP {status})"
    else:
        lead = f"{display} {_LEADS.get(chosen, 'refused the request')} (HTTP {status})"
    text = f"{lead}: {server_text}" if server_text else f"{lead}."
    if not text.endswith((".", "!", "?")):
        text += "."  # the error's hint follows
    if note:
        text = f"{text} {note}"
    text = redact_text(text)
    raw = redact(body)
    if chosen is RateLimitError:
        err: LTX2Error = RateLimitError(
            text,
            retry_after=parse_retry_after(header(headers, "Retry-After")),
            provider=provider,
            status_code=status,
            raw=raw,
        )
        err.kind = "concurrency" if "concurrency" in status_word(error_type or "") else "rate"  # type: ignore[attr-defined]
        return err
    return chosen(text, provider=provider, status_code=status, raw=raw)


def error_from_spec(
    provider: Provider,
    status: int,
    body: Any,
    headers: Mapping[str, str] | None,
    message: str | None = None,
    *,
    error_type: str | None = None,
) -> LTX2Error:
    """A typed error from the provider spec's error-type table (else by status and type hints).
    The answer's ``x-request-id`` is kept in the message: support asks for it."""
    spec = provider.SPEC
    if error_type is None:
        for path in spec.error_type_paths:
            value = lookup(body, path)
            if isinstance(value, str) and value.strip() and value != "error":
                error_type = value
                break
    cls = spec.error_types.get(status_word(error_type)) if error_type else None
    notes = [spec.expired_note] if cls is JobExpiredError and spec.expired_note else []
    request_id = header(headers, "x-request-id")
    if request_id:
        notes.append(f"(request id {redact_text(str(request_id))[:100]})")
    return error_from_http(
        provider.name,
        status,
        body,
        headers,
        message,
        display_name=provider.display_name,
        error_type=error_type,
        cls=cls,
        note=" ".join(notes) or None,
    )


# --- resolution tiers (prices) -------------------------------------------------------------------------

TIERS: tuple[str, ...] = ("720p", "1080p", "1440p", "2160p")


def resolution_tier(
    resolution: str | None = None, width: int | None = None, height: int | None = None
) -> str:
    """ "720p" | "1080p" | "1440p" | "2160p" by the shorter side of a WxH token or a size (anything
    up to 720 px prices as 720p; unknown as 1080p)."""
    if resolution and "x" in resolution:
        try:
            width, height = (int(p) for p in resolution.lower().split("x", 1))
        except ValueError:
            width = height = None
    if width and height:
        short = min(width, height)
        if short > 1440:
            return "2160p"
        if short > 1080:
            return "1440p"
        if short > 720:
            return "1080p"
        return "720p"
    return "1080p"
