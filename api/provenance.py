"""A small JSON sidecar next to each result: where the video came from, so a file found later can be
traced, collected again or reproduced.

``<name>.mp4`` gets ``<name>.mp4.ltx2.json`` holding the provider, model, mode, the provider's request
id and the journal id, the request fields (media inputs by content hash and type, never their bytes),
the estimated cost, timings and the result file's size and hash. Never a key: everything written is
redacted of every configured key, and keys are never part of a request's fields.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .files import write_text_atomic
from .journal import JobRecord
from .redact import redact

log = logging.getLogger("ltx2_nodes")

SUFFIX = ".ltx2.json"
FORMAT = "ltx2-provenance/1"


def sidecar_path(result: Path | str) -> Path:
    result = Path(result)
    return result.with_name(result.name + SUFFIX)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")


def document(result: Path, record: JobRecord, *, timings: dict[str, float] | None = None) -> dict[str, Any]:
    """The sidecar's content for ``result``, downloaded for journal ``record``."""
    cost = record.cost
    return {
        "format": FORMAT,
        "file": result.name,
        "size": result.stat().st_size,
        "sha256": _sha256(result),
        "provider": record.provider,
        "mode": record.mode,
        "model": record.model,
        "provider_model": record.job_model,
        "request_id": record.provider_job_id,
        "journal_id": record.id,
        "request_hash": record.request_hash,
        "base_url": record.base_url,
        "request": record.params,  # media as {"sha256", "content_type"[, "url"]}: no bytes
        "estimated_cost": None
        if cost is None
        else {"amount": cost.amount, "unit": cost.unit, "text": str(cost)},
        "timings": {name: round(value, 3) for name, value in (timings or {}).items()},
        "submitted_at": _iso(record.created_at),
        "finished_at": _iso(time.time()),
        "collect_again": f"ltx2 jobs resume {record.id}",
    }


def write_sidecar(
    result: Path | str, record: JobRecord, *, timings: dict[str, float] | None = None
) -> Path | None:
    """Write the sidecar next to ``result`` (atomically). Never raises: a sidecar that cannot be
    written must not turn a paid, downloaded result into an error. Returns its path, or None."""
    result = Path(result)
    target = sidecar_path(result)
    try:
        text = json.dumps(redact(document(result, record, timings=timings)), indent=2, default=str) + "\n"
        write_text_atomic(target, text, prefix=".ltx2-provenance-")
    except Exception as exc:
        log.warning("LTX-2: could not write the provenance file %s: %s", target, exc)
        return None
    return target


def read_sidecar(result: Path | str) -> dict[str, Any] | None:
    """The sidecar of ``result`` when it exists and is readable."""
    try:
        data = json.loads(sidecar_path(result).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def follow(source: Path | str, dest: Path | str, *, copy: bool) -> Path | None:
    """Keep the sidecar with its result when the result is moved (or copied) to ``dest``; the copy's
    ``file`` names the new file. Never raises; returns the new sidecar's path, or None."""
    source_sidecar, dest_sidecar = sidecar_path(source), sidecar_path(dest)
    if not source_sidecar.is_file():
        return None
    try:
        data = read_sidecar(source)
        if data is None:
            (shutil.copy2 if copy else shutil.move)(str(source_sidecar), str(dest_sidecar))
            return dest_sidecar
        data["file"] = Path(dest).name
        write_text_atomic(
            dest_sidecar, json.dumps(data, indent=2, default=str) + "\n", prefix=".ltx2-provenance-"
        )
        if not copy:
            source_sidecar.unlink()
    except Exception as exc:
        log.warning("LTX-2: could not keep the provenance file with %s: %s", dest, exc)
        return None
    return dest_sidecar
