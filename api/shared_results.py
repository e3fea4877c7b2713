"""Result videos shared through S3 in a farm: a worker that collected a job stores the checked file
under its content hash, so an equal request on another worker gets the file without asking the
provider again. Only with a shared journal and the S3 store configured; best effort (the provider
still keeps the job, so a missing copy costs a download, never a purchase)."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from .errors import LTX2Error
from .journal import JobRecord, Journal

log = logging.getLogger("ltx2_nodes")
RESULTS_FOLDER = "results/"


def _store(journal: Journal):  # -> S3Store | None
    if not journal.shared:
        return None
    from . import config

    settings = config.s3_settings()
    if not settings.configured:
        return None
    from .s3 import open_store

    return open_store(settings)


def _key(store, sha256: str) -> str:
    return f"{store.settings.prefix}{RESULTS_FOLDER}{sha256}.mp4"


def publish(journal: Journal, path: Path, sha256: str) -> bool:
    """Store a checked result in the farm's bucket. Never raises: the job is already collected."""
    try:
        store = _store(journal)
        if store is None:
            return False
        store.ensure(_key(store, sha256), Path(path).read_bytes(), "video/mp4", sha256)
        return True
    except (LTX2Error, OSError) as exc:
        log.warning("LTX-2: the result %s was not stored in the farm's bucket: %s", Path(path).name, exc)
        return False


def fetch(journal: Journal, record: JobRecord, dest: Path) -> Path | None:
    """The record's result from the farm's bucket, written to ``dest`` once its size and hash match
    what the journal recorded; None when it is not there (or S3 is not configured)."""
    if not record.result_sha256 or record.result_size is None:
        return None
    try:
        store = _store(journal)
        if store is None:
            return None
        answer = store.client.get_object(Bucket=store.settings.bucket, Key=_key(store, record.result_sha256))
        if int(answer.get("ContentLength") or 0) != record.result_size:
            return None
        data = answer["Body"].read(record.result_size + 1)
    except Exception as exc:  # botocore's errors (a missing object is one) or storage: not fatal
        log.info("LTX-2: no shared copy of job %s: %s", record.id[:8], type(exc).__name__)
        return None
    if len(data) != record.result_size or hashlib.sha256(data).hexdigest() != record.result_sha256:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(data)
    os.replace(part, dest)
    return dest
