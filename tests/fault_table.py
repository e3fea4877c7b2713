"""The fault suite as data: every injected fault, what the pack does about it, how many submits
reach the provider and the journal state left behind. ``tests/test_faults.py`` runs these cases
against the emulator; ``markdown_table()`` renders them for the README.

    python tests/fault_table.py            print the table
    python tests/fault_table.py --write    rewrite the README section between the markers
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- fault-table:start -->"
END = "<!-- fault-table:end -->"


@dataclass(frozen=True)
class FaultCase:
    id: str
    provider: str  # whose protocol the fault is injected into
    fault: str  # what goes wrong (README)
    outcome: str  # what the pack does (README)
    submits: int | None  # submit requests that reach the provider; None = varies (see submits_text)
    jobs: int  # jobs the provider created, i.e. jobs that can be billed
    error: str | None  # the exception class the caller sees; None = the video arrives
    state: str  # final journal state (after the resume, for cases that resume)
    faults: tuple[dict[str, Any], ...] = ()  # emulator ``Fault`` fields injected before the run
    settings: dict[str, Any] = field(default_factory=dict)  # RunSettings overrides
    emulator: dict[str, Any] = field(default_factory=dict)  # EmulatorConfig overrides
    submits_text: str = ""  # README wording when ``submits`` is None
    # The dedicated test that runs this case (in tests/), when the generic emulator run cannot (several
    # processes, a hostile server of the test's own, a storage fault); empty = ``test_fault_case``.
    covered_by: str = ""
    resumed: bool = False  # the caller sees the error, then the video on ``ltx2 jobs resume``

    @property
    def submits_cell(self) -> str:
        return self.submits_text if self.submits is None else f"{self.submits} / {self.jobs}"


def _http(op: str, status: int, count: int = 1, provider: str = "gmi", **extra: Any) -> dict[str, Any]:
    return {"op": op, "kind": "http", "status": status, "count": count, "provider": provider, **extra}


def _kind(op: str, kind: str, count: int = 1, provider: str = "gmi", **extra: Any) -> dict[str, Any]:
    return {"op": op, "kind": kind, "count": count, "provider": provider, **extra}


RETRIED = "Retried with backoff; the video arrives"

CASES: tuple[FaultCase, ...] = (
    FaultCase(
        "submit-429",
        "gmi",
        "Submit answered 429 with `Retry-After`",
        "Waits as told and sends the submit again: the provider refused it before any job id, so nothing "
        "was billed",
        2,
        1,
        None,
        "downloaded",
        (_http("submit", 429, retry_after=0.2),),
    ),
    FaultCase(
        "submit-503",
        "gmi",
        "Submit answered 503",
        "Sends the submit again after a backoff (refused before any job id)",
        2,
        1,
        None,
        "downloaded",
        (_http("submit", 503),),
    ),
    FaultCase(
        "submit-500",
        "gmi",
        "Submit answered 500",
        "Never resent (the provider may have accepted it); `SubmitUncertainError` says to check "
        "`ltx2 jobs list` and the provider's dashboard",
        1,
        0,
        "SubmitUncertainError",
        "uncertain",
        (_http("submit", 500),),
    ),
    FaultCase(
        "submit-500-accepted",
        "gmi",
        "Submit accepted and billed, but the answer is a 500",
        "Never resent, so the job is paid once; recorded as uncertain",
        1,
        1,
        "SubmitUncertainError",
        "uncertain",
        (_http("submit", 500, after_accept=True),),
    ),
    FaultCase(
        "submit-reset",
        "gmi",
        "Connection reset after the submit was sent",
        "Never resent; recorded as uncertain",
        1,
        0,
        "SubmitUncertainError",
        "uncertain",
        (_kind("submit", "reset"),),
    ),
    FaultCase(
        "submit-401",
        "gmi",
        "Submit answered 401 (bad key)",
        "`AuthError` telling where the key is read from; recorded as rejected (nothing billed)",
        1,
        0,
        "AuthError",
        "rejected",
        (_http("submit", 401),),
    ),
    FaultCase(
        "poll-429",
        "gmi",
        "Status poll answered 429 with `Retry-After`",
        "Waits as told and polls again; the video arrives",
        1,
        1,
        None,
        "downloaded",
        (_http("status", 429, retry_after=0.2),),
    ),
    FaultCase(
        "poll-500",
        "gmi",
        "Status poll answered 500 (twice)",
        RETRIED,
        1,
        1,
        None,
        "downloaded",
        (_http("status", 500, 2),),
    ),
    FaultCase(
        "poll-502",
        "gmi",
        "Status poll answered 502 (twice)",
        RETRIED,
        1,
        1,
        None,
        "downloaded",
        (_http("status", 502, 2),),
    ),
    FaultCase(
        "poll-503",
        "gmi",
        "Status poll answered 503 (twice)",
        RETRIED,
        1,
        1,
        None,
        "downloaded",
        (_http("status", 503, 2),),
    ),
    FaultCase(
        "poll-504",
        "gmi",
        "Status poll answered 504 (twice)",
        RETRIED,
        1,
        1,
        None,
        "downloaded",
        (_http("status", 504, 2),),
    ),
    FaultCase(
        "poll-reset",
        "gmi",
        "Connection reset in the middle of polling (twice)",
        RETRIED,
        1,
        1,
        None,
        "downloaded",
        (_kind("status", "reset", 2),),
    ),
    FaultCase(
        "poll-malformed",
        "gmi",
        "Status answer that is not JSON (twice)",
        RETRIED,
        1,
        1,
        None,
        "downloaded",
        (_kind("status", "malformed", 2),),
    ),
    FaultCase(
        "poll-unknown-status",
        "gmi",
        "Status answer with an unknown status word (once)",
        "Tolerated and polled again; the video arrives",
        1,
        1,
        None,
        "downloaded",
        (_kind("status", "unknown-status"),),
    ),
    FaultCase(
        "poll-unknown-status-persistent",
        "gmi",
        "Only unknown status words",
        "`ProviderError` quoting the answer after three in a row; the job stays resumable",
        1,
        1,
        "ProviderError",
        "interrupted",
        (_kind("status", "unknown-status", 50),),
    ),
    FaultCase(
        "poll-timeout",
        "gmi",
        "Job never finishes (poll timeout)",
        "`PollTimeoutError`; the job stays resumable with `ltx2 jobs resume ID`",
        1,
        1,
        "PollTimeoutError",
        "interrupted",
        (_kind("job", "stuck"),),
        settings={"poll_timeout": 0.8},
    ),
    FaultCase(
        "download-truncated",
        "gmi",
        "Download cut off halfway",
        "The download is retried; the video arrives complete",
        1,
        1,
        None,
        "downloaded",
        (_kind("download", "truncate", provider="*"),),
    ),
    FaultCase(
        "download-expired",
        "gmi",
        "Output URL expired (403) before the download",
        "`DownloadError`; the job stays resumable, and `ltx2 jobs resume ID` fetches a fresh URL and the "
        "video without a new submit",
        1,
        1,
        "DownloadError",
        "downloaded",
        (_kind("download", "expire", provider="*"),),
    ),
    FaultCase(
        "download-empty",
        "gmi",
        "Download answered 200 with an empty body",
        "Never kept as the result: downloaded again; the video arrives",
        1,
        1,
        None,
        "downloaded",
        (_kind("download", "empty"),),
    ),
    FaultCase(
        "download-redirect-link-local",
        "gmi",
        "Output URL redirects to the link-local cloud metadata address",
        "The hop is refused before any connection (the URL policy); `DownloadError`; the job stays resumable",
        1,
        1,
        "DownloadError",
        "succeeded",
        (_kind("download", "redirect"),),
    ),
    FaultCase(
        "poll-deep-json",
        "gmi",
        "Status answer nested 100,000 levels deep (twice)",
        "Refused as too deep (no `RecursionError`) and polled again; the video arrives",
        1,
        1,
        None,
        "downloaded",
        (_kind("status", "deep", 2),),
    ),
    FaultCase(
        "poll-huge-json",
        "gmi",
        "Status answer of 300 MB without a length (twice)",
        "Reading stops at 4 MiB (the rest is never read into memory) and it polls again; the video arrives",
        1,
        1,
        None,
        "downloaded",
        (_kind("status", "huge", 2),),
    ),
    FaultCase(
        "submit-deep-json",
        "gmi",
        "Submit answered 200 with JSON nested 100,000 levels deep",
        "Never resent (the provider may have accepted it); `SubmitUncertainError`; recorded as uncertain",
        1,
        0,
        "SubmitUncertainError",
        "uncertain",
        (_kind("submit", "deep"),),
    ),
    FaultCase(
        "job-failed-escapes",
        "gmi",
        "Job fails with a reason full of terminal escape sequences",
        "`JobFailedError` quoting the reason without the control sequences; recorded as failed",
        1,
        1,
        "JobFailedError",
        "failed",
        (_kind("job", "fail", message="\x1b]0;owned\x07\x1b[2JContent policy violation\x1b[0m\r"),),
    ),
    FaultCase(
        "job-failed",
        "gmi",
        "Job fails with a reason",
        "`JobFailedError` quoting the provider's reason; recorded as failed",
        1,
        1,
        "JobFailedError",
        "failed",
        (_kind("job", "fail", message="Content policy violation: the prompt was flagged"),),
    ),
    FaultCase(
        "job-cancelled",
        "gmi",
        "Job cancelled by the provider",
        "`JobCancelledError`; recorded as cancelled",
        1,
        1,
        "JobCancelledError",
        "cancelled",
        (_kind("job", "cancel"),),
    ),
    FaultCase(
        "interrupt",
        "gmi",
        "User interrupts while the job runs",
        "`Interrupted`; the job stays resumable",
        1,
        1,
        "Interrupted",
        "interrupted",
        (_kind("job", "stuck"),),
    ),
    FaultCase(
        "ltx-concurrency",
        "ltx",
        "Three LTX jobs at once with a concurrency limit of 2 (429)",
        "The refused submit waits and is sent again; all three videos arrive, no job is created twice",
        None,
        3,
        None,
        "downloaded",
        emulator={"ltx_concurrency": 2, "processing_seconds": 0.8},
        submits_text="3 accepted (+ refused 429s) / 3",
    ),
    FaultCase(
        "process-killed",
        "gmi",
        "Process killed between submit and download",
        "The journal kept the job id; `ltx2 jobs resume ID` collects the video without a new submit",
        1,
        1,
        None,
        "downloaded",
        emulator={"processing_seconds": 120.0},
    ),
)

NOT_A_VIDEO = (
    "`ResultNotVideoError` saying what came back (type, size, first bytes); nothing is saved or cached, the "
    "job stays resumable and `ltx2 jobs resume ID` collects the real video"
)
JOURNAL_UNUSABLE = "One line naming the journal file and saying that nothing was sent; no traceback"

MONEY_CASES: tuple[FaultCase, ...] = (
    FaultCase(
        "claim-race",
        "*",
        "Two processes (two ComfyUIs, ComfyUI + `ltx2`) run the same fixed-seed request at once, the first "
        "submit still in flight (each provider)",
        "The request is claimed in the journal in one transaction; the second process waits for the claim "
        "and collects the first one's video",
        1,
        1,
        None,
        "downloaded",
        covered_by="test_two_processes_racing_the_same_request_pay_once_and_both_get_the_video",
    ),
    FaultCase(
        "killed-mid-submit",
        "gmi",
        "Process killed (SIGKILL) after the submit was sent, before its answer (the job was accepted)",
        "Never sent again silently: a rerun stops with the journal id, `ltx2 jobs show ID`, the dashboard and "
        "`--new-take` (node: `force_rerun`); `ltx2 jobs` and the ComfyUI startup report list it at once as "
        "maybe billed",
        1,
        1,
        "UnfinishedSubmitError",
        "pending",
        covered_by="test_a_process_killed_mid_submit_is_never_resubmitted_silently",
    ),
    FaultCase(
        "sigterm",
        "gmi",
        "SIGTERM (a service manager's stop) while `ltx2` waits for the job",
        "Handled like Ctrl-C: exit 130, the journal id to resume is printed; the job stays resumable",
        1,
        1,
        "Interrupted",
        "interrupted",
        covered_by="test_sigterm_is_handled_like_ctrl_c",
    ),
    FaultCase(
        "journal-locked-at-accept",
        "gmi",
        "Journal locked by another process when the provider accepts the job",
        "Retried with backoff; then the job id goes to a small file next to the journal, written into it at "
        "the next open; the error names the job and the journal id (never recorded as uncertain)",
        1,
        1,
        "JournalError",
        "downloaded",
        covered_by="test_a_journal_locked_by_another_process_at_acceptance_keeps_the_job_id",
        resumed=True,
    ),
    *(
        FaultCase(
            f"download-{name}",
            "gmi",
            f"Output URL answers 200 with {what}",
            NOT_A_VIDEO,
            1,
            1,
            "ResultNotVideoError",
            "downloaded",
            covered_by="test_a_body_that_is_not_the_video_is_never_the_result",
            resumed=True,
        )
        for name, what in (
            ("html", "a web page"),
            ("json", "a JSON body"),
            ("cut-mp4", "an MP4 cut off halfway (consistent length header)"),
            ("audio-only", "an audio-only MP4"),
        )
    ),
    FaultCase(
        "cache-file-replaced",
        "gmi",
        "Rerun of a request whose cached file was overwritten by another request's video (same `-o`)",
        "The file's size and hash no longer match: it is not served; the request runs again",
        1,
        1,
        None,
        "downloaded",
        covered_by="test_the_cache_serves_only_the_file_it_recorded",
    ),
    *(
        FaultCase(
            f"journal-{slug}",
            "gmi",
            f"Job journal {what}",
            JOURNAL_UNUSABLE,
            0,
            0,
            "JournalError",
            "",
            covered_by="test_a_journal_that_cannot_be_used_ends_in_one_line_and_sends_nothing",
        )
        for slug, what in (
            ("locked", "locked by another process"),
            ("corrupt", "corrupt"),
            ("not-a-database", "is not a database"),
            ("read-only", "read-only"),
            ("disk-full", "on a full disk"),
        )
    ),
    FaultCase(
        "output-disk-full",
        "gmi",
        "Output disk full after the job succeeded",
        "`StorageError` naming the folder, saying the job is billed and giving `ltx2 jobs resume ID`; no "
        "partial file is left",
        1,
        1,
        "StorageError",
        "downloaded",
        covered_by="test_a_full_output_disk_after_the_job_succeeded_names_the_job_to_resume",
        resumed=True,
    ),
    FaultCase(
        "key-echoed",
        "gmi",
        "Provider echoes the API key in the job id and in the result URL",
        "Stored and printed as `***` everywhere (journal, text, `--json`, `jobs show --json`)",
        1,
        1,
        None,
        "downloaded",
        covered_by="test_a_key_echoed_as_job_id_or_in_the_result_url_is_never_stored_or_printed",
    ),
)
CASES = CASES + MONEY_CASES

BY_ID: dict[str, FaultCase] = {case.id: case for case in CASES}


def markdown_table() -> str:
    """The README table (no trailing newline)."""
    lines = [
        "| Fault | What the pack does | Caller sees | Submits / jobs created | Journal state |",
        "|---|---|---|---|---|",
    ]
    for case in CASES:
        caller = f"`{case.error}`" if case.error else "the video"
        if case.resumed or case.id in ("download-expired", "process-killed"):
            caller = f"`{case.error}`, then the video on resume" if case.error else "the video on resume"
        state = f"`{case.state}`" if case.state else "none (nothing written)"
        lines.append(f"| {case.fault} | {case.outcome} | {caller} | {case.submits_cell} | {state} |")
    return "\n".join(lines)


def readme_section(text: str) -> str | None:
    """What the README holds between the markers, or None when they are missing."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start + len(START) : end].strip("\n")


def write_readme(path: Path = README) -> bool:
    """Rewrite the section between the markers (appended as a new section when they are missing).
    Returns True when the file changed."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{START}\n{markdown_table()}\n{END}"
    start, end = text.find(START), text.find(END)
    if start >= 0 and end > start:
        new = text[:start] + block + text[end + len(END) :]
    else:
        new = text.rstrip("\n") + ("\n\n" if text.strip() else "") + "## Fault handling\n\n" + block + "\n"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    if "--write" in argv:
        changed = write_readme()
        print(f"{README}: {'fault table rewritten' if changed else 'already up to date'}")
        return 0
    print(markdown_table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
