"""``ltx2 jobs``: list, show and resume journalled jobs."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from ..jobstate import billing
from ..journal import JobRecord, Journal
from ..redact import redact_keys, redact_text, register_secret
from .common import CommandError, check_wait_flags
from .progress import ProgressPrinter
from .table import text_table

_LIST_LIMIT = 20
_ALL_LIMIT = 0  # the journal's 'no limit'
_HEADERS = ("id", "created", "provider", "mode", "model", "state", "provider id", "cost", "file")


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _cost(record: JobRecord) -> str:
    """The estimate of a job that is billed; marked with '?' when it may have been; '-' when the
    provider refused it or it never reached the provider (nothing to pay)."""
    bill = billing(record)
    if record.cost_amount is None or bill == "none":
        return "-"
    if record.cost_unit == "USD":
        text = f"${record.cost_amount:.2f}"
    else:
        text = f"{record.cost_amount:g} {record.cost_unit or ''}".strip()
    return text + ("?" if bill == "maybe" else "")


def _state(record: JobRecord) -> str:
    if record.is_abandoned():
        return "pending (never sent)"
    return "pending (process gone)" if record.orphaned else record.state.value


def record_row(record: JobRecord) -> list[str]:
    return [
        record.id[:8],
        _when(record.created_at),
        record.provider,
        record.mode,
        record.model or "-",
        _state(record),
        record.provider_job_id or "-",
        _cost(record),
        Path(record.result_path).name if record.result_path else "-",
    ]


def record_doc(journal: Journal, record: JobRecord) -> dict[str, Any]:
    """The journal's JSON view (params and errors come redacted). The output URL may be signed:
    its token is masked here; paths are shown as they are."""
    doc = journal.export(record)
    if doc.get("video_url"):
        doc["video_url"] = redact_text(doc["video_url"])
    doc["billing"] = billing(record)
    return doc


def jobs_table(records: list[JobRecord]) -> str:
    return redact_keys(text_table(_HEADERS, [record_row(r) for r in records]))


def _dump(value: Any) -> str:
    return redact_keys(json.dumps(value, indent=2, default=str))


def _unfinished_note(unfinished: list[JobRecord]) -> str:
    lines = []
    collectable = [r for r in unfinished if r.resumable]
    maybe = [r for r in unfinished if not r.resumable]
    if collectable:
        n = len(collectable)
        noun = "job was" if n == 1 else "jobs were"
        lines.append(f"{n} {noun} accepted but never collected: ltx2 jobs resume ID")
    for record in maybe:
        lines.append(
            f"Job {record.id} may have been billed: its submit to {record.provider} got no answer"
            f"{' (the process sending it stopped)' if record.orphaned else ''}. Check 'ltx2 jobs show "
            f"{record.id}' and the provider's dashboard; run it again with --new-take only if it is not there."
        )
    return "\n".join(lines)


def register_configured_keys() -> None:
    """Every key the config knows is removed from what this command prints, even keys stored
    before the journal redacted them."""
    from .. import config
    from ..providers import provider_names

    for name in provider_names():
        try:
            register_secret(config.get_api_key(name))
        except Exception:  # no key for this provider, or an unreadable config: nothing to remove
            continue


def cmd_list(journal: Journal, *, show_all: bool, as_json: bool) -> int:
    records = journal.list(limit=_ALL_LIMIT if show_all else _LIST_LIMIT)
    if as_json:
        print(_dump([record_doc(journal, r) for r in records]))
        return 0
    print(jobs_table(records) if records else "No jobs in the journal.")
    return 0


def cmd_overview(journal: Journal) -> int:
    """``ltx2 jobs``: jobs that still hold a paid result first, then the newest."""
    unfinished = journal.unfinished()
    if unfinished:
        print(_unfinished_note(unfinished))
        print(jobs_table(unfinished))
        print()
    records = journal.list(limit=_LIST_LIMIT)
    print(jobs_table(records) if records else "No jobs in the journal.")
    return 0


def _get(journal: Journal, ident: str) -> JobRecord:
    record = journal.get(ident)
    if record is None:
        raise CommandError(f"no job '{ident}' in the journal (see 'ltx2 jobs list --all')")
    return record


def cmd_show(journal: Journal, ident: str, *, as_json: bool) -> int:
    doc = record_doc(journal, _get(journal, ident))
    if as_json:
        print(_dump(doc))
        return 0
    for name, value in doc.items():
        if name in ("created_at", "updated_at"):
            continue  # "created" / "updated" show the same moment readably
        if isinstance(value, (dict, list)):
            value = json.dumps(value, default=str)
        print(redact_keys(f"{name:>16}: {'-' if value is None else value}"))
    return 0


def cmd_resume(journal: Journal, args: argparse.Namespace) -> int:
    from .. import runner
    from .generate import output_target, prepare_output, print_result, run_with_interrupt

    check_wait_flags(args.poll_interval, args.poll_timeout)
    record = _get(journal, args.id)
    folder, final = output_target(args.output)
    folder = prepare_output(folder, final, args.output, overwrite=args.overwrite)
    printer = ProgressPrinter()

    def make(flag):
        settings = runner.RunSettings(
            output_dir=folder,
            output_file=final,
            overwrite=args.overwrite,
            profile=args.profile,
            poll_timeout=args.poll_timeout,
            poll_interval=args.poll_interval,
            journal=journal,
            cancel_check=flag,
            on_progress=printer,
        )
        return runner.resume(record.id, settings)

    try:
        result = run_with_interrupt(make, journal=journal, journal_hint=record.id)
    finally:
        printer.finish()
    print_result(result, as_json=args.json)
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    register_configured_keys()
    journal = Journal()
    command = args.jobs_command
    if command is None:
        return cmd_overview(journal)
    if command == "list":
        return cmd_list(journal, show_all=args.all, as_json=args.json)
    if command == "show":
        return cmd_show(journal, args.id, as_json=args.json)
    return cmd_resume(journal, args)
