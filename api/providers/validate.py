"""The shared validator: every documented limit of a provider's spec, checked before anything is
sent. Refusals name the input, the value and what is allowed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError, UnknownMediaLengthError
from ..types import AUTO_DURATION, MEDIA_FIELDS, GenerationRequest, MediaInput
from . import common as c
from .base import ModelSpec
from .spec import ModeRules, NumberRange, VideoLimits

if TYPE_CHECKING:
    from .base import Provider


def shot_values(req: GenerationRequest, spec: ModelSpec, rules: ModeRules) -> tuple[Any, Any, Any]:
    """(duration, resolution, fps) as they will be sent: the user's values, else the model's
    defaults for the fields the mode always sends. An unset size or frame rate follows a duration
    rule the chosen duration needs (12 s on a Fast model picks 1920x1080 at 25 fps)."""
    sent = rules.sent_with_default
    duration = (
        req.duration if req.duration is not None else (spec.default_duration if "duration" in sent else None)
    )
    resolution = req.resolution or (spec.default_resolution if "resolution" in sent else None)
    fps = req.fps if req.fps is not None else (spec.default_fps if "fps" in sent else None)
    for rule in spec.duration_rules:
        if duration in rule.durations:
            if req.resolution is None and rule.resolutions and resolution not in rule.resolutions:
                resolution = rule.resolutions[0]
            if req.fps is None and rule.fps and fps not in rule.fps:
                fps = rule.fps[0]
    return duration, resolution, fps


def check_range(name: str, value: Any, rng: NumberRange, *, provider: str, hi: float | None = None) -> None:
    top = rng.hi if hi is None else hi
    c.in_range(
        name,
        value,
        rng.lo,
        top,
        provider=provider,
        unit=rng.unit,
        integer=rng.integer,
        reason=rng.reason or None,
    )
    if rng.lo_open and rng.lo is not None and value <= rng.lo:
        raise InvalidInputError(
            name,
            value,
            f"more than {c.fmt_value(rng.lo)}" + (f", at most {c.fmt_value(top)}" if top is not None else ""),
            provider=provider,
            reason=rng.reason or None,
        )


def _check_shot(provider: Provider, req: GenerationRequest, spec: ModelSpec, rules: ModeRules) -> None:
    p = provider.name
    duration, resolution, fps = shot_values(req, spec, rules)
    if "duration" in rules.fields and duration is not None:
        if duration == AUTO_DURATION:
            if not spec.auto_duration:
                offered = [m.name for m in provider.models(req.mode) if m.auto_duration]
                raise InvalidInputError(
                    "duration",
                    duration,
                    c.fmt_allowed(spec.durations) if spec.durations else "a number of seconds",
                    provider=p,
                    reason=f"{spec.name} cannot choose the length itself"
                    + (f" (only {', '.join(offered)})" if offered else ""),
                )
        elif spec.durations:
            c.one_of(
                "duration",
                duration,
                spec.durations,
                provider=p,
                reason=f"not offered by {spec.name}" if len(provider.models(req.mode)) > 1 else None,
            )
        elif "duration" in rules.ranges:
            check_range("duration", duration, rules.ranges["duration"], provider=p)
        elif spec.duration_range is not None:
            c.in_range("duration", duration, *spec.duration_range, provider=p, unit="s")
    if "resolution" in rules.fields and resolution is not None and spec.resolutions:
        c.one_of(
            "resolution", resolution, spec.resolutions, provider=p, reason=rules.resolution_reason or None
        )
    if "fps" in rules.fields and fps is not None and spec.fps:
        c.one_of(
            "fps",
            fps,
            spec.fps,
            provider=p,
            reason=rules.fps_reason
            or (f"not offered by {spec.name}" if len(provider.models(req.mode)) > 1 else None),
        )
    if duration is None or duration == AUTO_DURATION:
        return
    for rule in spec.duration_rules:
        if duration not in rule.durations:
            continue
        if (rule.resolutions and resolution not in rule.resolutions) or (rule.fps and fps not in rule.fps):
            here = [d for d in spec.durations if d not in rule.durations]
            raise InvalidInputError(
                "duration",
                duration,
                f"{c.fmt_allowed(here)} at {resolution} and {fps} fps",
                provider=p,
                reason=rule.reason or None,
            )


def _frames(media: MediaInput) -> int | None:
    info = media.info
    if info.frame_count is not None:
        return info.frame_count
    if info.duration is not None and info.fps:
        return round(info.duration * info.fps)
    return None


def check_input_video(provider: str, name: str, video: MediaInput, limits: VideoLimits) -> None:
    """Codec, size, frame count and length of an input video (unknown facts are skipped)."""
    info = video.info
    if limits.codecs and info.video_codec:
        c.one_of(
            name,
            info.video_codec.lower(),
            limits.codecs,
            provider=provider,
            reason="the video must be H.264 or H.265",
        )
    if limits.max_sides is not None:
        c.check_media_dimensions(name, video, *limits.max_sides, provider=provider)
    if limits.side_range is not None and info.width and info.height:
        lo, hi = limits.side_range
        if min(info.width, info.height) < lo or max(info.width, info.height) > hi:
            raise InvalidInputError(
                name,
                f"{info.width}x{info.height}",
                f"every side {lo} to {hi} pixels",
                provider=provider,
                reason="the video has an unsupported size",
            )
    frames = _frames(video)
    if limits.min_frames is not None and frames is not None and frames < limits.min_frames:
        raise InvalidInputError(
            name,
            f"{frames} frames",
            f"at least {limits.min_frames} frames (about {limits.min_frames / 24:.0f} s at 24 fps)",
            provider=provider,
            reason="the video is too short",
        )
    if limits.max_frames is not None and frames is not None and frames > limits.max_frames:
        raise InvalidInputError(
            name,
            f"{frames} frames",
            f"at most {limits.max_frames} frames",
            provider=provider,
            reason="the video is too long",
        )
    if limits.max_seconds is not None:
        c.check_media_duration(name, video, None, limits.max_seconds, provider=provider)


def _media_seconds(provider: Provider, rules: ModeRules, req: GenerationRequest) -> None:
    p = provider.name
    for name, (lo, hi) in rules.media_seconds.items():
        media = getattr(req, name)
        if media is None:
            continue
        seconds = c.check_media_duration(name, media, lo, hi, provider=p)
        if seconds is None and name in rules.media_seconds_known:
            raise UnknownMediaLengthError(
                name,
                media.url or media.filename or name,
                "media whose length can be read",
                provider=p,
                reason=f"{provider.display_name} needs the {name} length ({c.fmt_value(lo)} to "
                f"{c.fmt_value(hi)} s) and it could not be determined; use a local file or a reachable URL",
            )


def _section(provider: str, req: GenerationRequest) -> None:
    """Retake: [start_time, start_time + duration) must lie inside the input video."""
    video = req.video
    total = video.info.duration if video is not None else None
    start = req.start_time if req.start_time is not None else 0.0
    if (
        total is not None
        and req.duration is not None
        and start + float(req.duration) > total + c.frame_slack(video)
    ):  # type: ignore[arg-type]
        raise InvalidInputError(
            "duration",
            req.duration,
            f"at most {max(total - start, 0):.2f} s from start_time {start:g} s",
            provider=provider,
            reason=f"the section must lie inside the {total:.2f} s video",
        )


def _context(provider: str, req: GenerationRequest, rules: ModeRules) -> None:
    """Extend: context at most the input's length; context + extension within the frame limit."""
    video = req.video
    if video is None or req.duration is None:
        return
    total, fps = video.info.duration, video.info.fps
    rng = rules.ranges.get("context")
    if req.context is not None and total is not None and rng is not None:
        hi = total if rng.hi is None else min(rng.hi, total)
        c.in_range(
            "context",
            req.context,
            rng.lo,
            hi,
            provider=provider,
            unit="s",
            reason=f"at most the {total:.2f} s input" + (f" (and {c.fmt_value(rng.hi)} s)" if rng.hi else ""),
        )
    limit = rules.context_frames_max
    if limit is None or not fps:
        return
    frames = (float(req.duration) + float(req.context or 0.0)) * fps  # type: ignore[arg-type]
    if frames > limit + 0.5:
        name = "context" if req.context else "duration"
        value = req.context if req.context else req.duration
        raise InvalidInputError(
            name,
            value,
            f"context + duration at most {limit / fps:.2f} s at {fps:g} fps",
            provider=provider,
            reason=f"context + extension is {frames:.0f} frames, over the {limit}-frame limit",
        )


_SHOT_RANGES = ("duration", "start_time")  # checked above, in their own order


def validate_request(provider: Provider, req: GenerationRequest) -> ModelSpec:
    """Every limit the provider's spec declares, in the order a user fixes them."""
    spec = provider.resolve_model(req)
    ps = provider.SPEC
    rules = ps.modes[req.mode]
    p = provider.name
    video_bytes = rules.input_video.max_bytes if rules.input_video is not None else None
    c.check_request_fields_and_media(
        provider, req, set(rules.fields), seed_range=ps.seed_range, video_max_bytes=video_bytes
    )
    if req.last_frame is not None and not spec.last_frame:
        offered = [m.name for m in provider.models(req.mode) if m.last_frame]
        raise InvalidInputError(
            "last_frame",
            req.last_frame.url or req.last_frame.filename or "an image",
            f"leave it unset, or use {', '.join(offered)}" if offered else "leave it unset",
            provider=p,
            reason=f"{spec.name} does not take a last frame",
        )
    media_required = {k: v for k, v in rules.required.items() if k in MEDIA_FIELDS}
    for name, (allowed, reason) in media_required.items():
        c.required(name, getattr(req, name), provider=p, allowed=allowed, reason=reason)
    _media_seconds(provider, rules, req)
    if rules.input_video is not None and req.video is not None:
        check_input_video(p, "video", req.video, rules.input_video)
    if "resolution" in ps.early_fields and req.resolution is not None and spec.resolutions:
        c.one_of(
            "resolution", req.resolution, spec.resolutions, provider=p, reason=rules.resolution_reason or None
        )
    required_prompt = rules.prompt == "required" or (rules.prompt == "unless_image" and req.image is None)
    c.check_prompt(
        req.prompt,
        provider=p,
        required_=required_prompt,
        max_chars=ps.prompt_max,
        reason=rules.prompt_reason or None,
    )
    for name, (allowed, reason) in rules.required.items():
        if name not in media_required:
            c.required(name, getattr(req, name), provider=p, allowed=allowed, reason=reason)
    # a section's start before its length; the length with the other shot settings
    if req.start_time is not None and "start_time" in rules.ranges:
        check_range("start_time", req.start_time, rules.ranges["start_time"], provider=p)
    _check_shot(provider, req, spec, rules)
    for name, words in ps.choices.items():
        value = getattr(req, name, None)
        if value is not None and name in rules.fields:
            c.one_of(name, value, words, provider=p)
    for name, rng in rules.ranges.items():
        value = getattr(req, name, None)
        if value is not None and name not in _SHOT_RANGES:
            check_range(name, value, rng, provider=p)
    c.check_bool("generate_audio", req.generate_audio, provider=p)
    if rules.section_inside_input:
        _section(p, req)
    if rules.context_frames_max is not None or "context" in rules.ranges:
        _context(p, req, rules)
    return spec
