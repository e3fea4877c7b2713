"""Entry point of the ``ltx2`` command: argument parsing, dispatch, and one error policy.

Every failure becomes one line on stderr and exit code 1 (``--debug`` adds the traceback);
argparse usage errors exit 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from ..providers import provider_names
from ..providers.vocab import CUSTOM_PLACEMENT, FIELD_WORDS
from ..redact import redact_text, strip_control
from ..types import AUTO_DURATION, Mode
from .common import CommandError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a pipe closed early

# Every list a flag offers comes from the registry (providers, modes, words) or api.hosting.
PROVIDER_CHOICES = tuple(provider_names())
MODE_CHOICES = tuple(m.value for m in Mode)


def hosting_choices() -> tuple[str, ...]:
    from ..hosting import HOSTING_METHODS  # late: it loads the HTTP client

    return tuple(HOSTING_METHODS)


def model_help() -> str:
    from ..providers import all_providers

    names = dict.fromkeys(s.name for p in all_providers() for s in p.models())
    return f"{', '.join(names)} (default: the provider's for the mode; see `ltx2 providers`)"


def duration_value(text: str) -> float | str:
    """Seconds, or "auto" (the model chooses the length: LTX-2.5)."""
    if text.strip().lower() == AUTO_DURATION:
        return AUTO_DURATION
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds or '{AUTO_DURATION}', got {text!r}") from None


def placement_value(text: str) -> tuple[str, tuple[float | None, ...]]:
    """An anchor word, or the box "X,Y,WIDTH,HEIGHT" in fractions of the output (WIDTH or HEIGHT may be empty)."""
    word = text.strip().lower()
    if word in FIELD_WORDS["placement"]:
        return word, ()
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) != 4:
            raise ValueError
        box = tuple(float(p) if p else None for p in parts)
    except ValueError:
        anchors = ", ".join(FIELD_WORDS["placement"][:-1])
        raise argparse.ArgumentTypeError(
            f"expected an anchor ({anchors}) or X,Y,WIDTH,HEIGHT, got {text!r}"
        ) from None
    return CUSTOM_PLACEMENT, box


def _debug_flag(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    # SUPPRESS on subcommands so ``ltx2 --debug generate`` is not reset by the subparser's default.
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show tracebacks on errors",
    )


def _max_download_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-download-mb",
        type=float,
        metavar="MB",
        help="largest result to download, in MB (default: $LTX2_MAX_DOWNLOAD_MB, else 4096)",
    )


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="run one generation and write the MP4",
        description="Run one LTX-2 generation on a provider and write the MP4.",
    )
    _debug_flag(p)
    p.add_argument("--provider", required=True, choices=PROVIDER_CHOICES, help="the provider to run on")
    p.add_argument("--mode", required=True, choices=MODE_CHOICES, help="what to generate")
    p.add_argument("--model", help=model_help())
    p.add_argument("--prompt", default="", help="what to generate (text prompt)")
    p.add_argument("--image", metavar="PATH_OR_URL", help="input image: a file or an https URL")
    p.add_argument(
        "--last-frame", metavar="PATH_OR_URL", help="image-to-video / audio-to-video: the last frame"
    )
    p.add_argument("--audio", metavar="PATH_OR_URL", help="input audio: a file or an https URL")
    p.add_argument("--video", metavar="PATH_OR_URL", help="input video: a file or an https URL")
    p.add_argument(
        "--duration",
        type=duration_value,
        help="seconds (extend: seconds added; retake: section length), or auto (LTX-2.5 picks the length)",
    )
    p.add_argument("--resolution", help="e.g. 1920x1080 (GMI, LTX) or 720p (API in One)")
    p.add_argument("--fps", type=int, help="frames per second of the result")
    p.add_argument("--aspect-ratio", choices=FIELD_WORDS["aspect_ratio"], help="API in One text-to-video")
    p.add_argument("--camera-motion", choices=FIELD_WORDS["camera_motion"], help="camera motion preset")
    p.add_argument(
        "--generate-audio",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="generate a soundtrack (default: the provider's)",
    )
    p.add_argument("--guidance-scale", type=float, help="how closely to follow the prompt")
    p.add_argument(
        "--seed",
        type=int,
        help="fixed seed: an equal request with the same seed reuses the earlier result; a run "
        "without --seed is a new take and cannot be reused from the cache",
    )
    p.add_argument("--start-time", type=float, help="retake: section start in seconds")
    p.add_argument(
        "--retake-mode", choices=FIELD_WORDS["retake_mode"], help="retake: what the section replaces"
    )
    p.add_argument(
        "--extend-mode", choices=FIELD_WORDS["extend_mode"], help="extend: add at the end or the start"
    )
    p.add_argument("--context", type=float, help="extend: seconds of the input used as context")
    p.add_argument(
        "--control-mode", choices=FIELD_WORDS["control_mode"], help="control: what guides the video"
    )
    p.add_argument("--audio-mode", choices=FIELD_WORDS["audio_mode"], help="what happens to the input audio")
    p.add_argument(
        "--placement",
        type=placement_value,
        metavar="ANCHOR_OR_BOX",
        help="reframe: where the video sits: center, top, bottom, left, right, top_left, ... or "
        "X,Y,WIDTH,HEIGHT as fractions of the output (WIDTH or HEIGHT may be left empty)",
    )
    p.add_argument(
        "--hosting", choices=hosting_choices(), default="auto", help="how input media reach the provider"
    )
    p.add_argument("--profile", help="named key set in the config file")
    p.add_argument("--base-url", help="override the provider's base URL")
    p.add_argument(
        "--no-cache", action="store_true", help="do not reuse the result of an equal earlier request"
    )
    p.add_argument(
        "--poll-timeout", type=float, default=1800.0, help="seconds to wait for the job (default 1800)"
    )
    p.add_argument(
        "--poll-interval", type=float, help="seconds between status polls (default: the provider's)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT.mp4",
        help="output file or folder (default: a new file in the current folder); an existing file is "
        "never replaced unless --overwrite is given",
    )
    p.add_argument("--overwrite", action="store_true", help="let --output replace an existing file")
    p.add_argument(
        "--new-take",
        action="store_true",
        help="buy a new take even when an earlier run of this request stopped while its submit may "
        "have been accepted (check 'ltx2 jobs' first); implies --no-cache",
    )
    _max_download_flag(p)
    p.set_defaults(handler="generate")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="every provider x mode end to end on the built-in emulator",
        description="Start the built-in emulator and run every provider x mode end to end. "
        "No key needed; real MP4s and contact sheets are written to --out.",
    )
    _debug_flag(p)
    p.add_argument("--out", default="./ltx2-demo", help="output folder (default ./ltx2-demo)")
    p.add_argument(
        "--provider", action="append", choices=PROVIDER_CHOICES, help="only this provider (repeatable)"
    )
    p.add_argument("--mode", action="append", choices=MODE_CHOICES, help="only this mode (repeatable)")
    p.add_argument("--fast", action="store_true", help="small renders (longer side 320 px) and short timings")
    p.set_defaults(handler="demo")


def _add_emulator(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "emulator",
        help="serve the three providers' protocols on loopback",
        description="Run the emulator of GMI Cloud, API in One and the LTX API until Ctrl-C.",
    )
    _debug_flag(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765)")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    p.add_argument("--queue-seconds", type=float, help="how long each job stays queued")
    p.add_argument("--processing-seconds", type=float, help="how long each job processes")
    p.add_argument("--render-scale", type=float, help="scale of the rendered videos (1 = requested size)")
    p.add_argument("--max-render-side", type=int, help="cap on the longer side of rendered videos")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="PROVIDER:OP:KIND[:STATUS][xCOUNT]",
        help="inject a fault, e.g. gmi:status:http:503x2 or ltx:submit:delay:2.5s (repeatable)",
    )
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="PROVIDER=KEY",
        help="the key the emulator accepts for a provider (repeatable)",
    )
    p.set_defaults(handler="emulator")


def _add_jobs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "jobs",
        help="list, show and resume journalled jobs",
        description="The job journal: every paid request. Without a subcommand: unfinished "
        "jobs first, then the newest jobs.",
    )
    _debug_flag(p)
    p.set_defaults(handler="jobs", jobs_command=None, all=False, json=False)
    jsub = p.add_subparsers(dest="jobs_command", metavar="{list,show,resume}")
    pl = jsub.add_parser("list", help="the newest jobs")
    _debug_flag(pl)
    pl.add_argument("--all", action="store_true", help="every job, not only the newest 20")
    pl.add_argument("--json", action="store_true", help="as JSON")
    ps = jsub.add_parser("show", help="one job in full")
    _debug_flag(ps)
    ps.add_argument("id", help="journal id (or unique prefix) or provider job id")
    ps.add_argument("--json", action="store_true", help="as JSON")
    pr = jsub.add_parser("resume", help="finish polling and download a job without resubmitting it")
    _debug_flag(pr)
    pr.add_argument("id", help="journal id (or unique prefix) or provider job id")
    pr.add_argument(
        "-o", "--output", metavar="OUT.mp4", help="output file or folder (default: the current folder)"
    )
    pr.add_argument("--overwrite", action="store_true", help="let --output replace an existing file")
    pr.add_argument(
        "--poll-timeout", type=float, default=1800.0, help="seconds to wait for the job (default 1800)"
    )
    pr.add_argument(
        "--poll-interval", type=float, help="seconds between status polls (default: the provider's)"
    )
    pr.add_argument("--profile", help="named key set in the config file")
    pr.add_argument("--json", action="store_true", help="print the result as JSON")
    _max_download_flag(pr)


def _add_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "config",
        help="where keys come from; store a key",
        description="Show where each provider's key comes from (never the key), or store one.",
    )
    _debug_flag(p)
    p.set_defaults(handler="config", config_command="show", profile=None)
    csub = p.add_subparsers(dest="config_command", metavar="{show,set-key,delete-key,set-budget}")
    ps = csub.add_parser("show", help="key sources, base URLs, config and data paths")
    _debug_flag(ps)
    ps.add_argument("--profile", help="named key set in the config file")
    pk = csub.add_parser(
        "set-key", help="store a key in the config file (read from stdin or a hidden prompt)"
    )
    _debug_flag(pk)
    pk.add_argument("provider", choices=PROVIDER_CHOICES, help="whose key to store")
    pk.add_argument("--profile", help="named key set in the config file")
    from .config_cmd import add_delete_key, add_set_budget

    add_delete_key(csub, _debug_flag, PROVIDER_CHOICES)
    add_set_budget(csub, _debug_flag)


def _add_providers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("providers", help="the provider x mode table with models, durations, resolutions")
    _debug_flag(p)
    p.add_argument("--markdown", action="store_true", help="as a Markdown table (the README's source)")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(handler="providers")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ltx2", description="LTX-2 API Nodes command line.")
    _debug_flag(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_generate(sub)
    _add_demo(sub)
    _add_emulator(sub)
    _add_jobs(sub)
    _add_config(sub)
    _add_providers(sub)
    from .spend import add_spend

    add_spend(sub, _debug_flag)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    handler = args.handler
    if getattr(args, "max_download_mb", None) is not None:  # read (and checked) by the client
        os.environ["LTX2_MAX_DOWNLOAD_MB"] = f"{args.max_download_mb:g}"
        from ..config import max_download_bytes

        max_download_bytes()  # a bad value stops here, before any request
    if handler == "generate":
        from .generate import cmd_generate

        return cmd_generate(args)
    if handler == "demo":
        from .demo import cmd_demo

        return cmd_demo(args)
    if handler == "emulator":
        from .emulator_cmd import cmd_emulator

        return cmd_emulator(args)
    if handler == "jobs":
        from .jobs import cmd_jobs

        return cmd_jobs(args)
    if handler == "config":
        from .config_cmd import cmd_config

        return cmd_config(args)
    if handler == "spend":
        from .spend import cmd_spend

        return cmd_spend(args)
    if handler == "providers":
        from .providers_cmd import cmd_providers

        return cmd_providers(args)
    raise CommandError(f"unknown command {handler!r}")


def _silence_stdout() -> None:
    # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail too.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


_RESUME_PLACEHOLDER = "ltx2 jobs resume ID"


def with_resume_id(message: str, resume_id: str | None) -> str:
    """The error line of a job that stays resumable names its journal id (in place of the generic
    "ID" when the message already says how to resume)."""
    if not resume_id:
        return message
    command = f"ltx2 jobs resume {resume_id}"
    if command in message:  # the runner named the job already
        return message
    if _RESUME_PLACEHOLDER in message:
        return message.replace(_RESUME_PLACEHOLDER, command)
    return f"{message.rstrip()} The job stays resumable: {command}"


def error(message: str) -> None:
    print(f"ltx2: error: {strip_control(redact_text(message))}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    from ..errors import Interrupted, LTX2Error

    previous_term = _term_as_interrupt()
    try:
        return _dispatch(args)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error to report
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (KeyboardInterrupt, Interrupted):
        if debug:
            traceback.print_exc()
        print("ltx2: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except (LTX2Error, CommandError) as exc:
        if debug:
            traceback.print_exc()
        error(with_resume_id(str(exc), getattr(exc, "resume_id", None)))
        return EXIT_ERROR
    except Exception as exc:  # an unexpected failure still gets one line, not a traceback
        if debug:
            traceback.print_exc()
        error(f"{type(exc).__name__}: {exc} (run with --debug for details)")
        return EXIT_ERROR
    finally:
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)


def _term_as_interrupt() -> Any:
    """SIGTERM (a service manager's stop) is handled like Ctrl-C. Returns the handler it replaced."""
    try:
        return signal.signal(signal.SIGTERM, signal.default_int_handler)
    except (ValueError, AttributeError, OSError):  # not the main thread, or no SIGTERM here
        return None


if __name__ == "__main__":
    sys.exit(main())
