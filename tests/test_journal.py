"""The job journal: CRUD, lookups, concurrency across threads and processes, redaction."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ltx2_nodes.api import journal as journal_module
from ltx2_nodes.api.errors import ConfigError, InvalidInputError
from ltx2_nodes.api.jobstate import ALLOWED
from ltx2_nodes.api.journal import SCHEMA_VERSION, JobRecord, Journal, RecordState, file_digest
from ltx2_nodes.api.types import CostEstimate, GenerationRequest, MediaInput, MediaKind, Mode

BASE = "http://127.0.0.1:1/gmi"


def _req(prompt: str = "a red fox in the snow", seed: int | None = 7, **kw) -> GenerationRequest:
    return GenerationRequest(
        provider="gmi", mode=Mode.TEXT_TO_VIDEO, prompt=prompt, seed=seed, duration=6, **kw
    )


def _move(journal: Journal, record_id: str, *, state: object, **fields: object) -> JobRecord:
    """Bring a record to ``state`` through transitions the state machine allows (test set-up)."""
    target = RecordState(state)
    current = journal.get(record_id).state
    if target is current and target not in ALLOWED[current]:
        return journal.update(record_id, **fields)
    paths = {current: [current]}
    queue = [current]
    while target not in paths:  # breadth first: the shortest allowed path
        here = queue.pop(0)
        for nxt in ALLOWED[here]:
            if nxt not in paths:
                paths[nxt] = [*paths[here], nxt]
                queue.append(nxt)
    for step in paths[target][1:-1]:
        journal.set_state(record_id, step)
    return journal.set_state(record_id, target, **fields)


def _result_fields(path: Path) -> dict[str, object]:
    size, sha = file_digest(path)
    return {"result_path": str(path), "result_size": size, "result_sha256": sha}


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.sqlite3")


def test_create_writes_pending_row_with_request_facts(journal: Journal) -> None:
    req = _req()
    rec = journal.create(req, model="ltx-2-fast", base_url=BASE, cost=CostEstimate(0.24, "USD", "x"))
    assert rec.state is RecordState.PENDING
    assert len(rec.id) == 32 and int(rec.id, 16) >= 0
    assert rec.provider_job_id is None and not rec.resumable
    stored = journal.get(rec.id)
    assert stored == rec
    assert stored.request_hash == req.request_hash()
    assert stored.params["prompt"] == req.prompt and stored.params["mode"] == "text-to-video"
    assert stored.cost == CostEstimate(0.24, "USD")
    assert stored.base_url == BASE and stored.model == "ltx-2-fast"


def test_update_records_each_step_and_returns_the_new_record(journal: Journal) -> None:
    rec = journal.create(_req(), model=None, base_url=BASE, cost=None)
    rec2 = _move(
        journal, rec.id, provider_job_id="req-123", state=RecordState.SUBMITTED, job_model="wire-model"
    )
    assert rec2.state is RecordState.SUBMITTED and rec2.provider_job_id == "req-123" and rec2.resumable
    assert rec2.updated_at >= rec.updated_at and rec2.created_at == rec.created_at
    rec3 = _move(journal, rec.id, state="running", raw_status="processing")
    assert rec3.state is RecordState.RUNNING and rec3.raw_status == "processing"
    url = "http://127.0.0.1:1/_files/abc?X-Goog-Signature=deadbeef"
    rec4 = _move(journal, rec.id, state=RecordState.SUCCEEDED, video_url=url)
    assert rec4.video_url == url  # kept whole: it is needed to download and holds no API key
    rec5 = _move(journal, rec.id, state=RecordState.DOWNLOADED, result_path=Path("/tmp/x.mp4"))
    assert rec5.result_path == "/tmp/x.mp4" and not rec5.resumable
    assert rec5.job_model == "wire-model"


def test_update_refuses_fixed_or_unknown_fields_and_unknown_ids(journal: Journal) -> None:
    rec = journal.create(_req(), model=None, base_url=BASE, cost=None)
    with pytest.raises(TypeError):
        journal.update(rec.id, request_hash="x")
    with pytest.raises(TypeError):
        journal.update(rec.id, colour="red")
    with pytest.raises(KeyError):
        journal.set_state("f" * 32, RecordState.FAILED)
    with pytest.raises(ValueError):
        _move(journal, rec.id, state="exploded")


def test_get_by_prefix_and_provider_id(journal: Journal) -> None:
    rec = journal.create(_req(), model=None, base_url=BASE, cost=None)
    journal.update(rec.id, provider_job_id="gmi-job-42")
    assert journal.get(rec.id[:6]).id == rec.id
    assert journal.get(rec.id[:12].upper()).id == rec.id
    assert journal.get("gmi-job-42").id == rec.id
    assert journal.get(rec.id[:5]) is None  # too short to be a prefix
    assert journal.get("") is None
    assert journal.get("0" * 32 if not rec.id.startswith("0") else "1" * 32) is None


def test_ambiguous_prefix_is_an_error_naming_the_id(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = iter(["abcdef0123456789abcdef0123456789", "abcdef99999999999999999999999999"])

    class FakeUuid:
        @staticmethod
        def uuid4() -> uuid.UUID:
            return uuid.UUID(next(ids))

    monkeypatch.setattr(journal_module, "uuid", FakeUuid)
    journal.create(_req(), model=None, base_url=BASE, cost=None)
    journal.create(_req(), model=None, base_url=BASE, cost=None)
    with pytest.raises(InvalidInputError) as info:
        journal.get("abcdef")
    assert (
        "'job id'" in str(info.value) and "abcdef" in str(info.value) and "ltx2 jobs list" in str(info.value)
    )
    assert journal.get("abcdef0").id.startswith("abcdef0")


def test_list_newest_first_with_state_filter_and_limit(journal: Journal) -> None:
    recs = [journal.create(_req(prompt=f"p{i}"), model=None, base_url=BASE, cost=None) for i in range(5)]
    _move(journal, recs[1].id, state=RecordState.FAILED)
    _move(journal, recs[3].id, state=RecordState.FAILED)
    assert [r.id for r in journal.list()] == [r.id for r in reversed(recs)]
    assert [r.id for r in journal.list(limit=2)] == [recs[4].id, recs[3].id]
    assert [r.id for r in journal.list(states=(RecordState.FAILED,))] == [recs[3].id, recs[1].id]


def test_unfinished_lists_resumable_and_uncertain_only(journal: Journal) -> None:
    states = [
        RecordState.PENDING,
        RecordState.UNCERTAIN,
        RecordState.REJECTED,
        RecordState.SUBMITTED,
        RecordState.RUNNING,
        RecordState.SUCCEEDED,
        RecordState.DOWNLOADED,
        RecordState.FAILED,
        RecordState.CANCELLED,
        RecordState.INTERRUPTED,
    ]
    by_state = {}
    for i, state in enumerate(states):
        rec = journal.create(_req(prompt=str(i)), model=None, base_url=BASE, cost=None)
        pid = (
            None
            if state in (RecordState.PENDING, RecordState.UNCERTAIN, RecordState.REJECTED)
            else f"job-{i}"
        )
        by_state[state] = _move(journal, rec.id, state=state, provider_job_id=pid)
    found = {r.state for r in journal.unfinished()}
    assert found == {
        RecordState.UNCERTAIN,
        RecordState.SUBMITTED,
        RecordState.RUNNING,
        RecordState.SUCCEEDED,
        RecordState.INTERRUPTED,
    }
    assert all(r.resumable for r in journal.unfinished() if r.state is not RecordState.UNCERTAIN)

    # A PENDING row left behind by a process that died mid-submit is as uncertain as UNCERTAIN.
    stale = by_state[RecordState.PENDING]
    conn = sqlite3.connect(journal.path)
    with conn:
        conn.execute(
            "UPDATE jobs SET updated_at = updated_at - ? WHERE id = ?",
            (journal_module.STALE_PENDING_SECONDS + 1, stale.id),
        )
    conn.close()
    assert stale.id in {r.id for r in journal.unfinished()}


def test_find_cached_needs_downloaded_state_and_existing_file(journal: Journal, tmp_path: Path) -> None:
    req = _req()
    first = journal.create(req, model=None, base_url=BASE, cost=None)
    assert journal.find_cached(req.request_hash()) is None
    old_file = tmp_path / "old.mp4"
    old_file.write_bytes(b"old")
    _move(journal, first.id, state=RecordState.DOWNLOADED, **_result_fields(old_file))
    second = journal.create(req, model=None, base_url=BASE, cost=None)
    new_file = tmp_path / "new.mp4"
    new_file.write_bytes(b"new")
    _move(journal, second.id, state=RecordState.DOWNLOADED, **_result_fields(new_file))
    journal.create(req, model=None, base_url=BASE, cost=None)  # newer but not downloaded
    assert journal.find_cached(req.request_hash()).id == second.id
    assert journal.find_cached(req.request_hash(), base_url=BASE).id == second.id
    assert journal.find_cached(req.request_hash(), base_url="https://elsewhere") is None
    assert journal.find_cached(_req(prompt="other").request_hash()) is None
    new_file.unlink()
    assert journal.find_cached(req.request_hash()).id == first.id
    old_file.unlink()
    assert journal.find_cached(req.request_hash()) is None


def test_export_is_json_safe(journal: Journal) -> None:
    rec = journal.create(_req(), model="ltx-2-pro", base_url=BASE, cost=CostEstimate(12, "credits"))
    rec = _move(journal, rec.id, provider_job_id="p1", state=RecordState.INTERRUPTED, error="stopped")
    out = journal.export(rec)
    text = json.dumps(out)
    assert json.loads(text)["state"] == "interrupted"
    assert out["resumable"] is True and out["provider_job_id"] == "p1" and out["cost_unit"] == "credits"
    assert out["created"].endswith("+00:00")


def test_schema_is_versioned_indexed_and_in_wal_mode(journal: Journal) -> None:
    conn = sqlite3.connect(journal.path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        index_sql = " ".join(
            r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL")
        )
        for column in ("request_hash", "provider_job_id", "state"):
            assert f"({column})" in index_sql
    finally:
        conn.close()
    Journal(journal.path)  # reopening an existing journal keeps it


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ConfigError) as info:
        Journal(path)
    assert "newer version" in str(info.value) and str(path) in str(info.value)


def test_default_path_is_under_the_data_dir(isolated_env: Path) -> None:
    j = Journal()
    assert j.path == isolated_env / "data" / "journal.sqlite3"
    assert j.path.is_file()


def test_params_hold_no_bytes(journal: Journal) -> None:
    image = MediaInput(
        kind=MediaKind.IMAGE, content_type="image/png", data=b"\x89PNG" + bytes(range(256)) * 40
    )
    req = GenerationRequest(provider="gmi", mode=Mode.IMAGE_TO_VIDEO, prompt="p", image=image)
    rec = journal.get(journal.create(req, model=None, base_url=BASE, cost=None).id)
    assert rec.params["image"] == {"sha256": image.sha256(), "content_type": "image/png"}
    raw = sqlite3.connect(journal.path).execute("SELECT params FROM jobs").fetchone()[0]
    assert len(raw) < 1000 and "PNG" not in raw


# Random key material mixing letters and digits, as keys do: a plain word ("duration") or a digit run
# ("20261121") also occurs in stored field names and timestamps and would prove nothing.
_TOKEN = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=12, max_size=40
).filter(lambda t: any(c.isdigit() for c in t) and any(c.isalpha() for c in t))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    token=_TOKEN,
    form=st.sampled_from(
        ["Authorization: Bearer {t}", "key aio_{t} refused", "sk-{t}", "GET https://x.test/v?api_key={t}&a=1"]
    ),
)
def test_errors_holding_keys_are_stored_redacted(journal: Journal, token: str, form: str) -> None:
    rec = journal.create(_req(), model=None, base_url=BASE, cost=None)
    _move(journal, rec.id, state=RecordState.REJECTED, error="HTTP 401: " + form.format(t=token))
    stored = journal.get(rec.id)
    assert stored.error.startswith("HTTP 401: ")
    assert token not in stored.error and "***" in stored.error
    assert token not in json.dumps(journal.export(stored))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=_TOKEN)
def test_key_like_text_in_a_prompt_never_reaches_the_file(journal: Journal, token: str) -> None:
    rec = journal.create(_req(prompt=f"use aio_{token} please"), model=None, base_url=BASE, cost=None)
    raw = (
        sqlite3.connect(journal.path).execute("SELECT params FROM jobs WHERE id = ?", (rec.id,)).fetchone()[0]
    )
    assert token not in raw and "aio_***" in raw


# --- concurrency -----------------------------------------------------------------------------------

WRITES = 25


def _write_many(path: str, tag: str) -> None:
    j = Journal(Path(path))
    for i in range(WRITES):
        rec = j.create(_req(prompt=f"{tag}-{i}"), model=None, base_url=BASE, cost=None)
        _move(j, rec.id, provider_job_id=f"{tag}-{i}", state=RecordState.SUBMITTED)
        _move(j, rec.id, state=RecordState.DOWNLOADED, result_path=f"/out/{tag}-{i}.mp4")


def _check_all_written(j: Journal, tags: list[str]) -> None:
    records = j.list(limit=0)
    assert len(records) == WRITES * len(tags)
    assert all(r.state is RecordState.DOWNLOADED for r in records)
    assert {r.provider_job_id for r in records} == {f"{t}-{i}" for t in tags for i in range(WRITES)}
    assert all(r.result_path == f"/out/{r.provider_job_id}.mp4" for r in records)


def test_concurrent_threads_lose_no_write(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite3"
    Journal(path)
    errors: list[BaseException] = []

    def run(tag: str) -> None:
        try:
            _write_many(str(path), tag)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"t{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    _check_all_written(Journal(path), [f"t{n}" for n in range(6)])


def test_two_processes_share_one_journal(tmp_path: Path) -> None:
    path = tmp_path / "procs.sqlite3"  # created concurrently by both processes (schema init races too)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(str(path), f"p{n}")) for n in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    _check_all_written(Journal(path), ["p0", "p1"])


def test_record_fields_match_columns(journal: Journal) -> None:
    # Every JobRecord field is a column: adding a field without a migration would break reads.
    conn = sqlite3.connect(journal.path)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
    finally:
        conn.close()
    assert columns == list(JobRecord.__dataclass_fields__)
