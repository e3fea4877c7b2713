"""What the LTX-2 sidebar shows of the journal: each job as a small JSON view (never a key, never a
signed output URL), grouped the way a user acts on it, and the background collection of paid jobs."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("ltx2_nodes")

# The groups of the sidebar, in the order a user acts on them.
GROUPS = ("running", "uncollected", "uncertain", "failed", "done")
MAX_LIST = 500
SCAN_LIMIT = 2000

_collecting: dict[str, asyncio.Task] = {}
_collect_errors: dict[str, str] = {}


def group_of(record: Any, now: float) -> str:
    """running | uncollected | uncertain | failed | done for one journal record."""
    from ..api.journal import RecordState

    state = record.state
    if state is RecordState.DOWNLOADED:
        return "done" if record.result_path and Path(record.result_path).is_file() else "uncollected"
    if state in (RecordState.FAILED, RecordState.CANCELLED, RecordState.REJECTED):
        return "failed"
    if state is RecordState.UNCERTAIN:
        return "uncertain"
    if state is RecordState.PENDING:
        if record.is_abandoned(now):  # its process died before sending anything
            return "failed"
        return "uncertain" if record.is_orphan(now) else "running"
    if record.provider_job_id is None:
        return "failed"
    if state in (RecordState.SUBMITTED, RecordState.RUNNING) and record.owner_alive(now):
        return "running"
    # Finished but not downloaded, interrupted, or running with nobody polling it any more.
    return "uncollected"


def _preview(result_path: str | None) -> dict[str, str] | None:
    """``/view`` parameters of a result inside ComfyUI's output folder (the only place it serves)."""
    if not result_path:
        return None
    from .comfy import output_directory

    try:
        root = output_directory().resolve()
        path = Path(result_path).resolve()
        if not path.is_file() or not path.is_relative_to(root):
            return None
        subfolder = path.parent.relative_to(root).as_posix()
    except (OSError, ValueError):
        return None
    return {"filename": path.name, "subfolder": "" if subfolder == "." else subfolder, "type": "output"}


def job_view(record: Any, now: float) -> dict[str, Any]:
    from ..api.ledger import counted
    from ..api.redact import redact, redact_text

    group = group_of(record, now)
    cost = record.cost
    view = {
        "id": record.id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "provider": record.provider,
        "mode": record.mode,
        "model": record.model,
        "state": record.state.value,
        "group": group,
        "status": record.raw_status,
        "provider_job_id": record.provider_job_id,
        "error": None if record.error is None else redact_text(record.error),
        "cost": None if cost is None else {"amount": cost.amount, "unit": cost.unit, "text": str(cost)},
        "billed": counted(record, now=now),
        "file": Path(record.result_path).name if record.result_path else None,
        "preview": _preview(record.result_path) if group == "done" else None,
        "prompt": str(record.params.get("prompt") or "")[:200],
        "collecting": record.id in _collecting,
        "collect_error": _collect_errors.get(record.id),
        "can_collect": group == "uncollected" and record.id not in _collecting,
    }
    return redact(view)


def jobs_doc(*, state: str | None = None, provider: str | None = None, limit: int = 200) -> dict[str, Any]:
    from ..api.journal import Journal, default_path
    from ..api.providers import all_providers

    providers = {p.name: p.display_name for p in all_providers()}
    path = default_path()
    # The newest jobs only: the sidebar refreshes every few seconds, and old jobs are done with.
    records = Journal(path).list(limit=SCAN_LIMIT) if path.exists() else []
    now = time.time()
    views = [job_view(r, now) for r in records]
    counts = {g: sum(1 for v in views if v["group"] == g) for g in GROUPS}
    if state:
        views = [v for v in views if v["group"] == state]
    if provider:
        views = [v for v in views if v["provider"] == provider]
    return {
        "jobs": views[: max(1, min(limit, MAX_LIST))],
        "counts": counts,
        "groups": list(GROUPS),
        "providers": providers,
    }


def start_collect(record_id: str) -> str:
    """Collect a paid job in the background (poll + download, never a submit). Returns the journal id."""
    from ..api.errors import InvalidInputError
    from ..api.journal import Journal

    record = Journal().get(record_id)
    if record is None:
        raise InvalidInputError("id", record_id, "a journal id from the LTX-2 sidebar", reason="no such job")
    if group_of(record, time.time()) != "uncollected":
        raise InvalidInputError(
            "id",
            record_id,
            "a paid job that was never collected",
            reason=f"it is {record.state.value}, nothing to collect",
        )
    if record.id in _collecting:
        return record.id
    _collect_errors.pop(record.id, None)
    task = asyncio.get_running_loop().create_task(_collect(record.id))
    _collecting[record.id] = task
    return record.id


async def _collect(record_id: str) -> None:
    from ..api import runner
    from ..api.errors import LTX2Error
    from .base import output_dir

    try:
        settings = runner.RunSettings(output_dir=output_dir(), filename_prefix="ltx2")
        await runner.resume(record_id, settings)
    except LTX2Error as exc:
        from ..api.redact import redact_text

        _collect_errors[record_id] = redact_text(str(exc))
    except Exception as exc:  # a failed collection must never take the server down
        log.warning("LTX-2: collecting job %s failed: %s", record_id[:8], exc)
        _collect_errors[record_id] = f"{type(exc).__name__}: collecting failed"
    finally:
        _collecting.pop(record_id, None)


async def wait_for_collections() -> None:
    """Wait for the collections running now (tests, shutdown)."""
    tasks = list(_collecting.values())
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
