"""``ltx2 generate``: one request from flags, run through the runner, the MP4 moved to ``-o``."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import Interrupted, LTX2Error
from ..redact import redact_keys
from ..types import MEDIA_FIELDS, GenerationRequest, GenerationResult, Mode, ProgressEvent
from .common import CommandError, check_wait_flags
from .progress import ProgressPrinter

_MEDIA_FLAGS = tuple(MEDIA_FIELDS.items())  # --image, --audio, --video, --last-frame


def build_request(args: argparse.Namespace) -> GenerationRequest:
    """The neutral request from parsed flags; media paths/URLs become probed ``MediaInput`` values."""
    from ..media.inputs import media_from_source
    from ..providers import normalize_provider_name

    media = {}
    for name, kind in _MEDIA_FLAGS:
        source = getattr(args, name, None)
        if source:
            media[name] = media_from_source(source, kind)
    placement, box = getattr(args, "placement", None) or (None, ())
    box_fields = dict(
        zip(("placement_x", "placement_y", "placement_width", "placement_height"), box, strict=False)
    )
    return GenerationRequest(
        provider=normalize_provider_name(args.provider),
        mode=Mode(args.mode),
        model=args.model or None,
        prompt=args.prompt or "",
        duration=args.duration,
        resolution=args.resolution,
        fps=args.fps,
        aspect_ratio=args.aspect_ratio,
        camera_motion=args.camera_motion,
        generate_audio=args.generate_audio,
        guidance_scale=args.guidance_scale,
        seed=args.seed,
        start_time=args.start_time,
        retake_mode=args.retake_mode,
        extend_mode=args.extend_mode,
        context=args.context,
        control_mode=args.control_mode,
        audio_mode=args.audio_mode,
        placement=placement,
        **box_fields,
        **media,
    )


STOP_SIGNALS = ("SIGINT", "SIGTERM")  # a service manager's plain stop is treated like Ctrl-C


class InterruptFlag:
    """First Ctrl-C (or SIGTERM) asks the runner to stop waiting (the job stays resumable); a second
    one raises KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.set = False

    def __call__(self) -> bool:
        return self.set

    def _handler(self, signum: int, frame: object) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    @contextmanager
    def installed(self) -> Iterator[InterruptFlag]:
        previous: dict[int, object] = {}
        try:
            for name in STOP_SIGNALS:
                number = getattr(signal, name, None)
                if number is not None:
                    previous[number] = signal.getsignal(number)
                    signal.signal(number, self._handler)
        except ValueError:  # not the main thread: leave the signals alone
            for number, handler in previous.items():
                signal.signal(number, handler)  # type: ignore[arg-type]
            yield self
            return
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)  # type: ignore[arg-type]

    def guard(self, on_progress: Callable[[ProgressEvent], None]) -> Callable[[ProgressEvent], None]:
        """Progress callback that stops a run interrupted before its paid submit is sent: the
        runner announces hosting and the submit before doing them, so a Ctrl-C during validation
        or upload never turns into a billed job."""

        def callback(event: ProgressEvent) -> None:
            on_progress(event)
            if self.set and event.phase in _BEFORE_SUBMIT:
                raise Interrupted(
                    "Stopped before the request was submitted: nothing was billed.", billed=False
                )

        return callback


_BEFORE_SUBMIT = ("uploading", "submitting")  # phases announced before the submit is sent


def output_target(output: str | None) -> tuple[Path, Path | None]:
    """(folder for the runner, final file or None to keep the runner's name)."""
    if not output:
        return Path.cwd(), None
    out = Path(output).expanduser().absolute()
    if out.is_dir():
        return out, None
    return out.parent, out


def prepare_output(folder: Path, final: Path | None, output: str | None, *, overwrite: bool) -> Path:
    """Check, before anything is sent, that the result can be written: ``-o`` names no existing file
    (unless ``--overwrite``), and its folder exists (or is made) and takes a file. A result that cannot
    be written would be paid for and left with the provider. Returns the folder."""
    if final is not None:
        folder = final.parent
        if final.exists() and not overwrite:
            raise CommandError(
                f"--output {output}: the file {final} exists already; nothing was sent "
                f"(add --overwrite to replace it, or choose another name)"
            )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".ltx2-write-check-"):
            pass
    except OSError as exc:
        named = f"--output {output}" if output else "the current folder"
        raise CommandError(
            f"{named}: cannot write to the folder {folder} ({exc.strerror or exc}); nothing was sent"
        ) from exc
    return folder


def journal_note(journal: object, ident: str | None) -> tuple[str | None, str | None]:
    """(what the user can do about the journalled job ``ident``, its journal id when it can be
    resumed). Only a job the provider accepted is resumable; an uncertain submit is not."""
    try:
        record = journal.get(ident) if ident else None  # type: ignore[attr-defined]
    except Exception:
        record = None
    if record is None:
        return None, None
    if record.resumable:
        return f"The job stays resumable: ltx2 jobs resume {record.id}", record.id
    if record.state.value == "uncertain":
        return (
            f"The submit may have reached {record.provider} without an answer: check "
            f"'ltx2 jobs show {record.id}' and the provider's dashboard before running it again.",
            None,
        )
    if record.state.value in ("pending", "rejected"):
        return "The request was not submitted: nothing was billed.", None
    return None, None


def print_result(result: GenerationResult, *, as_json: bool) -> None:
    if as_json:
        doc = {**result.info(), "path": str(result.path)}
        print(redact_keys(json.dumps(doc, indent=2)))
        return
    print(result.path)
    print(redact_keys(f"request id: {result.request_id or '-'}"))
    cost = (
        "unknown"
        if result.cost is None
        else f"{result.cost}" + (f" ({result.cost.detail})" if result.cost.detail else "")
    )
    print(f"estimated cost: {cost}" + (" (from cache: nothing was billed)" if result.from_cache else ""))


def run_with_interrupt(
    coro_factory: Callable[[InterruptFlag], object],
    *,
    journal: object,
    journal_hint: str | None = None,
    claimed: list[str] | None = None,
) -> GenerationResult:
    """Run a runner coroutine; on Ctrl-C / SIGTERM name the journal id to resume and re-raise.
    ``claimed``: journal ids the run reported (``RunSettings.on_claim``), newest last."""
    flag = InterruptFlag()
    if claimed and journal_hint is None:
        journal_hint = claimed[-1]
    try:
        with flag.installed():
            return asyncio.run(coro_factory(flag))  # type: ignore[arg-type]
    except (KeyboardInterrupt, Interrupted) as exc:
        journal_hint = journal_hint or (claimed[-1] if claimed else None)
        note, _ = journal_note(journal, getattr(exc, "journal_id", None) or journal_hint)
        if note is None and isinstance(exc, Interrupted) and str(exc):
            note = str(exc)  # e.g. stopped before the submit: the runner says nothing was billed
        if note:
            print(note, file=sys.stderr, flush=True)
        raise
    except LTX2Error as exc:
        # An error after the provider accepted the job: the error line names the id to collect it.
        journal_hint = journal_hint or (claimed[-1] if claimed else None)
        _, resume_id = journal_note(journal, exc.journal_id or journal_hint)
        if resume_id:
            exc.resume_id = resume_id
        raise


def cmd_generate(args: argparse.Namespace) -> int:
    from .. import runner
    from ..journal import Journal
    from ..providers import get_provider

    check_wait_flags(args.poll_interval, args.poll_timeout)
    req = build_request(args)
    provider = get_provider(req.provider)
    # Refuse what the provider does not offer before anything else (no key lookup, no request).
    provider.validate(req)
    folder, final = output_target(args.output)
    folder = prepare_output(folder, final, args.output, overwrite=args.overwrite)
    journal = open_journal(Journal)
    printer = ProgressPrinter(quiet=False)
    claimed: list[str] = []

    def make(flag: InterruptFlag):
        settings = runner.RunSettings(
            output_dir=folder,
            output_file=final,
            overwrite=args.overwrite,
            new_take=args.new_take,
            profile=args.profile,
            base_url=args.base_url,
            hosting=args.hosting,
            poll_timeout=args.poll_timeout,
            poll_interval=args.poll_interval,
            use_cache=not args.no_cache,
            journal=journal,
            cancel_check=flag,
            on_progress=flag.guard(printer),
            on_claim=claimed.append,
        )
        return runner.generate(req, settings)

    try:
        result = run_with_interrupt(make, journal=journal, claimed=claimed)
    finally:
        printer.finish()
    print_result(result, as_json=args.json)
    return 0


def open_journal(factory: Callable[[], object]) -> object:
    """The journal, or one line saying which file is unusable and that nothing was sent."""
    from ..errors import JournalError

    try:
        return factory()
    except JournalError as exc:
        if "nothing was sent" not in exc.message:
            exc.message = f"{exc.message[:-1]}; nothing was sent."
            exc.args = (exc.message,)
        raise
