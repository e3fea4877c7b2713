"""The job journal (sqlite, WAL): every paid request, its state and its result file."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .types import CostEstimate, GenerationRequest


class RecordState(str, enum.Enum):
    PENDING = "pending"  # written before submit; not yet known to the provider
    UNCERTAIN = "uncertain"  # submit may have reached the provider, no id came back
    REJECTED = "rejected"  # provider refused the submit; nothing was billed
    SUBMITTED = "submitted"  # provider id known
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # provider finished; not downloaded yet (resumable)
    DOWNLOADED = "downloaded"  # result file on disk
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # we stopped waiting; provider may still finish (resumable)


@dataclass
class JobRecord:
    id: str
    created_at: float
    updated_at: float
    provider: str
    mode: str
    model: str | None
    request_hash: str
    params: dict[str, Any]
    base_url: str
    state: RecordState
    provider_job_id: str | None = None
    raw_status: str | None = None
    video_url: str | None = None
    result_path: str | None = None
    error: str | None = None
    cost_amount: float | None = None
    cost_unit: str | None = None

    @property
    def resumable(self) -> bool:
        return self.provider_job_id is not None and self.state in (
            RecordState.SUBMITTED, RecordState.RUNNING, RecordState.SUCCEEDED, RecordState.INTERRUPTED)


class Journal:
    def __init__(self, path: Path | None = None) -> None:
        """``path`` None = <data_dir>/journal.sqlite3."""
        raise NotImplementedError

    def create(self, req: GenerationRequest, *, model: str | None, base_url: str, cost: CostEstimate | None) -> JobRecord:
        raise NotImplementedError

    def update(self, record_id: str, **fields: Any) -> JobRecord:
        raise NotImplementedError

    def get(self, ident: str) -> JobRecord | None:
        """By journal id (or unique prefix) or provider job id."""
        raise NotImplementedError

    def list(self, *, limit: int = 50, states: tuple[RecordState, ...] | None = None) -> list[JobRecord]:
        raise NotImplementedError

    def unfinished(self) -> list[JobRecord]:
        """Accepted jobs never collected (resumable) plus UNCERTAIN ones."""
        raise NotImplementedError

    def find_cached(self, request_hash: str) -> JobRecord | None:
        """Newest DOWNLOADED record with this hash whose result file still exists."""
        raise NotImplementedError
