"""``ltx2 demo``: every provider x mode end to end on the built-in emulator, no key needed.

The emulator runs in this process on a free loopback port; the environment points the pack at it,
the journal and caches live in ``<out>/.ltx2``, inputs are synthesised offline. Each run writes
``<out>/<provider>_<mode>.mp4`` and a contact sheet ``<out>/<provider>_<mode>.png``; a summary
table compares what was asked with what the container holds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import InvalidInputError, LTX2Error
from ..journal import Journal
from ..providers import DISPLAY_NAMES
from ..redact import redact_text
from ..types import GenerationRequest, MediaInfo, MediaInput, MediaKind, Mode
from .common import CommandError
from .table import text_table

DURATION_TOLERANCE = 0.5  # seconds between requested and actual length that still count as OK
FAST_MAX_SIDE = 320
DEMO_POLL_INTERVAL = 0.2  # the emulator is local: poll often instead of the providers' 5 s
PROMPTS = {
    Mode.TEXT_TO_VIDEO: "A red fox trots through fresh snow at dawn, soft light, slow dolly in",
    Mode.IMAGE_TO_VIDEO: "The scene comes alive: leaves drift and the light shifts",
    Mode.AUDIO_TO_VIDEO: "A presenter speaks to the camera in a bright studio",
    Mode.LIPSYNC: "A person speaks the words clearly to the camera",
    Mode.RETAKE: "The sky turns to a golden sunset",
    Mode.EXTEND: "The camera keeps moving forward along the road",
    Mode.CONTROL: "A dancer in a silver suit on a dark stage",
    Mode.REFRAME: "",
}


# --- inputs ------------------------------------------------------------------------------------------


class DemoInputs:
    """Offline inputs, synthesised on first use (a demo of one mode makes only what it needs), kept
    in ``folder`` to look at, and probed like any user file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._made: dict[str, MediaInput] = {}

    def _get(self, name: str, filename: str, kind: MediaKind, build: Callable[[], bytes]) -> MediaInput:
        if name not in self._made:
            from ..media.inputs import media_from_file

            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / filename
            path.write_bytes(build())
            self._made[name] = media_from_file(path, kind)
        return self._made[name]

    @property
    def image(self) -> MediaInput:
        from ..media import synth

        return self._get("image", "image.png", MediaKind.IMAGE, lambda: synth.test_png(256, 144, seed=1))

    @property
    def last_image(self) -> MediaInput:
        """The last frame of the first+last-frame run."""
        from ..media import synth

        return self._get("last_image", "last.png", MediaKind.IMAGE, lambda: synth.test_png(256, 144, seed=5))

    @property
    def speech_m4a(self) -> MediaInput:
        """The speech as AAC, for a provider that takes no WAV (the LTX API)."""

        def build() -> bytes:
            from ..media import synth
            from ..media.encode import encode_audio

            return encode_audio(synth.speech_like_audio(5.5, 16000, 1, 2), 16000, "m4a")

        return self._get("speech_m4a", "speech.m4a", MediaKind.AUDIO, build)

    @property
    def speech(self) -> MediaInput:
        """Speech-like WAV for audio-to-video and lipsync (API in One needs 5-20 s)."""
        from ..media import synth

        return self._get("speech", "speech.wav", MediaKind.AUDIO, lambda: synth.test_wav(5.5, seed=2))

    @property
    def clip(self) -> MediaInput:
        """MP4 for retake and extend: 100 frames (retake needs at least 73)."""
        from ..media import synth

        return self._get(
            "clip", "clip.mp4", MediaKind.VIDEO, lambda: synth.test_mp4(4.0, 256, 144, fps=25, seed=3)
        )

    @property
    def control(self) -> MediaInput:
        """MP4 for control: over 5 s (API in One takes 5-20 s control videos)."""
        from ..media import synth

        return self._get(
            "control", "control.mp4", MediaKind.VIDEO, lambda: synth.test_mp4(5.5, 256, 144, fps=25, seed=4)
        )


# --- the request for each provider x mode -------------------------------------------------------------


def _pixels(resolution: str) -> int:
    """Size order of a resolution token: "1920x1080" or "720p"."""
    text = resolution.lower()
    if "x" in text:
        w, _, h = text.partition("x")
        try:
            return int(w) * int(h)
        except ValueError:
            return 1 << 40
    digits = "".join(ch for ch in text if ch.isdigit())
    return int(digits) ** 2 if digits else 1 << 40


def smallest_request(provider_name: str, mode: Mode, inputs: DemoInputs) -> GenerationRequest:
    """The quickest valid request of a provider's default model for ``mode``: shortest duration,
    lowest resolution and fps; inputs for the mode. Fields the provider refuses are dropped."""
    from ..providers import get_provider

    provider = get_provider(provider_name)
    spec = provider.models(mode)[0]
    duration: float | None = None
    if spec.durations:
        duration = min(spec.durations)
    elif spec.duration_range is not None:
        duration = spec.duration_range[0]
    fields: dict[str, object] = {
        "duration": duration,
        "resolution": min(spec.resolutions, key=_pixels) if spec.resolutions else None,
        "fps": min(spec.fps) if spec.fps else None,
        "seed": 7,
    }
    if mode in (Mode.IMAGE_TO_VIDEO, Mode.LIPSYNC):
        fields["image"] = inputs.image
    if mode is Mode.IMAGE_TO_VIDEO and spec.last_frame:  # the first + last frame run
        fields["last_frame"] = inputs.last_image
    if mode in (Mode.AUDIO_TO_VIDEO, Mode.LIPSYNC):
        takes_wav = "audio/wav" in provider.media_limits(MediaKind.AUDIO).content_types
        fields["audio"] = inputs.speech if takes_wav else inputs.speech_m4a
        fields["duration"] = None  # the audio sets the length
    if mode is Mode.RETAKE:
        fields.update(video=inputs.clip, start_time=1.0, duration=max(2.0, duration or 2.0))
    if mode is Mode.EXTEND:
        fields.update(video=inputs.clip)
    if mode is Mode.CONTROL:
        fields.update(video=inputs.control, control_mode="pose")
    if mode is Mode.REFRAME:
        fields.update(video=inputs.clip, placement="center")
    req = GenerationRequest(
        provider=provider.name,
        mode=mode,
        model=spec.name,
        prompt=PROMPTS[mode],
        **{k: v for k, v in fields.items() if v is not None},
    )  # type: ignore[arg-type]
    dropped: set[str] = set()
    while True:
        try:
            provider.validate(req)
            return req
        except InvalidInputError as exc:
            name = exc.field
            optional = (
                name in GenerationRequest.__dataclass_fields__
                and name not in ("provider", "mode", "model", "prompt")
                and getattr(req, name, None) is not None
            )
            if not optional or name in dropped:
                raise
            dropped.add(name)
            req = replace(req, **{name: None})


# --- what the result should be --------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    duration: float | None
    size: tuple[int, int] | None
    fps: float | None


def _size_of(resolution: str | None, aspect_ratio: str | None) -> tuple[int, int] | None:
    if not resolution:
        return None
    text = resolution.lower()
    if "x" in text:
        w, _, h = text.partition("x")
        return int(w), int(h)
    if text.endswith("p") and text[:-1].isdigit():
        short = int(text[:-1])
        long = {480: 854, 720: 1280, 1080: 1920, 1440: 2560, 2160: 3840}.get(short, round(short * 16 / 9))
        return (short, long) if aspect_ratio == "9:16" else (long, short)
    return None


def expected_for(req: GenerationRequest) -> Expected:
    """Length, size and fps the result should have, from the request and its inputs."""
    from ..providers import get_provider

    spec = get_provider(req.provider).resolve_model(req)
    video = req.video.info if req.video is not None else MediaInfo()
    audio = req.audio.info if req.audio is not None else MediaInfo()
    size = _size_of(req.resolution or spec.default_resolution, req.aspect_ratio)
    fps = req.fps or spec.default_fps
    if req.mode in (Mode.AUDIO_TO_VIDEO, Mode.LIPSYNC):
        duration = audio.duration
    elif req.mode in (Mode.RETAKE, Mode.REFRAME):
        duration = video.duration
    elif req.mode is Mode.EXTEND:
        duration = None if video.duration is None else video.duration + (req.duration or 0.0)
    elif req.mode is Mode.CONTROL:
        duration = req.duration or video.duration
    else:
        duration = req.duration or spec.default_duration
    if req.mode in (Mode.RETAKE, Mode.EXTEND):  # the input decides size and frame rate
        size = (video.width, video.height) if video.width and video.height else size
        fps = video.fps or fps
    if req.mode is Mode.REFRAME:  # a new size, the input's frame rate
        fps = video.fps or fps
    return Expected(duration=duration, size=size, fps=float(fps) if fps else None)


@dataclass
class Outcome:
    provider: str
    mode: Mode
    model: str | None = None
    expected: Expected | None = None
    info: MediaInfo | None = None
    cost: str = "-"
    file: Path | None = None
    sheet: Path | None = None
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.problems


def rendered_size(size: tuple[int, int], *, fast: bool) -> tuple[int, int]:
    """The size the emulator renders for a requested one: as asked, or capped by ``--fast``."""
    if not fast:
        return size
    from ..emulator.render import render_size

    return render_size(size[0], size[1], max_side=FAST_MAX_SIDE)


def check(outcome: Outcome, *, fast: bool) -> None:
    """OK = duration within the tolerance; size and fps exactly as requested (the size as
    ``--fast`` caps the render). A length or size that cannot be read counts as a mismatch."""
    exp, info = outcome.expected, outcome.info
    if exp is None or info is None:
        outcome.problems.append("nothing to compare: the request or the result could not be read")
        return
    if (
        exp.duration is None
        or info.duration is None
        or abs(info.duration - exp.duration) > DURATION_TOLERANCE
    ):
        outcome.problems.append(f"duration {_fmt(info.duration)} s, expected {_fmt(exp.duration)} s")
    want = rendered_size(exp.size, fast=fast) if exp.size is not None else None
    if want is None or (info.width, info.height) != want:
        shown = f"{want[0]}x{want[1]}" if want else "unknown"
        outcome.problems.append(f"size {info.width}x{info.height}, expected {shown}")
    # A provider without an fps field (API in One) sets no expectation; any other must match.
    if exp.fps is not None and (info.fps is None or abs(info.fps - exp.fps) > 0.01):
        outcome.problems.append(f"fps {_fmt(info.fps)}, expected {_fmt(exp.fps)}")


# --- running ------------------------------------------------------------------------------------------------


@contextmanager
def patched_env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def run_case(req: GenerationRequest, out: Path, work: Path, journal: Journal, *, fast: bool) -> Outcome:
    from .. import runner
    from ..media.probe import probe
    from .contact_sheet import contact_sheet

    outcome = Outcome(provider=req.provider, mode=req.mode, model=req.model)
    started = time.monotonic()
    stem = f"{req.provider}_{req.mode.value}"
    try:
        outcome.expected = expected_for(req)
        settings = runner.RunSettings(
            output_dir=work,
            filename_prefix="demo",
            journal=journal,
            poll_interval=DEMO_POLL_INTERVAL,
            poll_timeout=600.0,
            use_cache=False,
        )
        result = await runner.generate(req, settings)
        outcome.model = result.model or req.model
        outcome.cost = str(result.cost) if result.cost is not None else "-"
        final = out / f"{stem}.mp4"
        os.replace(result.path, final)  # same folder tree: an atomic rename that overwrites an old run
        if result.journal_id:  # the journal follows the file, so `ltx2 jobs` shows where it is
            journal.update(result.journal_id, result_path=str(final))
        outcome.file = final
        outcome.info = await asyncio.to_thread(probe, final)
        label = f"{DISPLAY_NAMES.get(req.provider, req.provider)} | {req.mode.value} | {outcome.model or '-'}"
        outcome.sheet = await asyncio.to_thread(contact_sheet, final, out / f"{stem}.png", title=label)
        check(outcome, fast=fast)
    except Exception as exc:  # one failed run is a FAIL row, never the end of the demo
        text = str(exc) if isinstance(exc, LTX2Error) else f"{type(exc).__name__}: {exc}"
        outcome.error = redact_text(text)
    outcome.seconds = time.monotonic() - started
    status = "OK" if outcome.ok else "FAIL"
    detail = outcome.error or "; ".join(outcome.problems)
    _log(
        f"  {status:<4} {req.provider:<8} {req.mode.value:<15} {outcome.seconds:5.1f} s"
        + (f"  {detail}" if detail else "")
    )
    return outcome


async def run_all(
    cases: list[GenerationRequest], out: Path, work: Path, journal: Journal, *, fast: bool
) -> list[Outcome]:
    """One lane per provider (LTX allows two jobs per key; one each keeps every provider in bounds),
    the providers side by side."""
    lanes: dict[str, list[GenerationRequest]] = {}
    for req in cases:
        lanes.setdefault(req.provider, []).append(req)

    async def lane(reqs: list[GenerationRequest]) -> list[Outcome]:
        return [await run_case(req, out, work, journal, fast=fast) for req in reqs]

    results = await asyncio.gather(*(lane(r) for r in lanes.values()))
    by_key = {(o.provider, o.mode): o for group in results for o in group}
    return [by_key[(r.provider, r.mode)] for r in cases]


def plan_cases(
    providers: list[str] | None, modes: list[str] | None, inputs: DemoInputs
) -> tuple[list[GenerationRequest], list[Outcome]]:
    """Every (provider, mode) the registry offers within the filters; failures to even build a
    request become FAIL outcomes."""
    from ..providers import providers_for_mode

    cases: list[GenerationRequest] = []
    broken: list[Outcome] = []
    for mode in Mode:
        if modes and mode.value not in modes:
            continue
        for provider in providers_for_mode(mode):
            if providers and provider.name not in providers:
                continue
            try:
                cases.append(smallest_request(provider.name, mode, inputs))
            except LTX2Error as exc:
                broken.append(
                    Outcome(provider=provider.name, mode=mode, error=f"no valid demo request: {exc}")
                )
    return cases, broken


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}".rstrip("0").rstrip(".")


def summary_table(outcomes: list[Outcome]) -> str:
    headers = (
        "provider",
        "mode",
        "model",
        "duration req/act",
        "size",
        "fps",
        "frames",
        "audio",
        "est. cost",
        "file",
        "result",
    )
    rows = []
    for o in outcomes:
        info = o.info or MediaInfo()
        exp = o.expected or Expected(None, None, None)
        size = f"{info.width}x{info.height}" if info.width else "-"
        if exp.size and exp.size != (info.width, info.height):
            size += f" (req {exp.size[0]}x{exp.size[1]})"
        fps = _fmt(info.fps)
        if exp.fps and info.fps and abs(exp.fps - info.fps) > 0.01:
            fps += f" (req {exp.fps:g})"
        audio = "-" if info.has_audio is None else ("yes" if info.has_audio else "no")
        rows.append(
            [
                o.provider,
                o.mode.value,
                o.model or "-",
                f"{_fmt(exp.duration)} / {_fmt(info.duration)} s",
                size,
                fps,
                info.frame_count if info.frame_count is not None else "-",
                audio,
                o.cost,
                o.file.name if o.file else "-",
                "OK" if o.ok else "FAIL",
            ]
        )
    return text_table(headers, rows)


def demo(
    out: Path, *, providers: list[str] | None = None, modes: list[str] | None = None, fast: bool = False
) -> list[Outcome]:
    """Run the demo; returns one outcome per provider x mode."""
    from ..emulator.core import EmulatorConfig, RunningEmulator

    out = out.expanduser().absolute()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from exc
    data = out / ".ltx2"
    work = data / "runs"
    if fast:
        cfg = EmulatorConfig(queue_seconds=0.05, processing_seconds=0.15, max_render_side=FAST_MAX_SIDE)
    else:
        cfg = EmulatorConfig(queue_seconds=0.2, processing_seconds=0.5)
    with RunningEmulator(cfg) as emu:
        # Emulator jobs cost nothing: the user's spending caps do not apply to them.
        env = {**emu.env(), "LTX2_DATA_DIR": str(data), "LTX2_BUDGET": "off"}
        with patched_env(env):
            _log(f"Emulator on {emu.origin}; journal and caches in {data}")
            inputs = DemoInputs(out / "inputs")
            cases, broken = plan_cases(providers, modes, inputs)
            _log(
                f"Running {len(cases)} provider x mode combinations{' (fast: small renders)' if fast else ''}:"
            )
            outcomes = asyncio.run(run_all(cases, out, work, Journal(), fast=fast)) + broken
    return outcomes


def cmd_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    outcomes = demo(Path(args.out), providers=args.provider, modes=args.mode, fast=args.fast)
    print(summary_table(outcomes))
    failed = [o for o in outcomes if not o.ok]
    total = time.monotonic() - started
    print(
        f"\n{len(outcomes) - len(failed)} of {len(outcomes)} runs OK in {total:.1f} s; "
        f"files in {Path(args.out).expanduser().absolute()}"
    )
    for o in failed:
        print(f"FAIL {o.provider} {o.mode.value}: {o.error or '; '.join(o.problems)}")
    if not outcomes:
        print("Nothing ran: no provider offers the selected modes.")
        return 1
    return 1 if failed else 0
