"""Estimated spend per provider, per local calendar day and month, read from the job journal.

What counts (one rule, shared by ``ltx2 spend``, the sidebar and the budget guard):

- a job the provider accepted: it has a provider job id, whatever happened to it later (running,
  finished, collected, failed or cancelled by the provider: the provider may bill all of them);
- a submit that may have been billed: ``uncertain`` (sent, no answer), and a ``pending`` claim whose
  process died while its submit may have been sent (an orphan). Both count, because a budget that
  leaves them out could be overrun by jobs the provider did accept; the ledger shows them apart so
  the user can see why;
- a claim in flight (``pending``, its process alive: inputs being hosted, the submit being sent or
  waiting for its answer) counts for the budget guard only, so two processes cannot both pass a cap
  that only one job fits. A claim whose process died before sending anything counts nowhere.

Never counted: submits the provider refused (``rejected``: no job id, nothing billed), and reruns
answered from the result cache or by resuming a job (they create no journal record).

Days and months are local calendar days and months of the machine (the time zone of the process),
taken at the moment the request was claimed (the record's ``created_at``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from .journal import JobRecord, Journal, RecordState, default_path

# The unit each provider's estimates are in (GMI Cloud and the LTX API bill in dollars, API in One in
# credits). A provider missing here is taken as USD.
COST_UNITS: dict[str, str] = {"gmi": "USD", "ltx": "USD", "apiinone": "credits"}
UNITS = ("USD", "credits")


def unit_of(provider: str) -> str:
    return COST_UNITS.get(provider, "USD")


def day_start(now: float | None = None) -> float:
    """Epoch seconds of the local midnight that began the day of ``now``."""
    moment = datetime.fromtimestamp(time.time() if now is None else now)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_start(now: float | None = None) -> float:
    """Epoch seconds of the local midnight that began the month of ``now``."""
    moment = datetime.fromtimestamp(time.time() if now is None else now)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def category(record: JobRecord, now: float) -> str | None:
    """ "accepted", "uncertain", "in_flight" or None (not counted) for one journal record."""
    if record.provider_job_id:
        return "accepted"
    if record.state is RecordState.UNCERTAIN:
        return "uncertain"
    if record.state is RecordState.PENDING:
        if record.is_abandoned(now):  # its process died before the submit was sent: nothing billed
            return None
        return "uncertain" if record.is_orphan(now) else "in_flight"
    return None


# Rows that may count, selected in SQL; ``category`` decides the rest.
_COUNTED_SQL = "SELECT * FROM jobs WHERE created_at >= ? AND (provider_job_id IS NOT NULL OR state IN (?, ?))"


def _records(conn: sqlite3.Connection, since: float) -> list[JobRecord]:
    conn.row_factory = sqlite3.Row
    args = (since, RecordState.UNCERTAIN.value, RecordState.PENDING.value)
    return [Journal._record(row) for row in conn.execute(_COUNTED_SQL, args).fetchall()]


@dataclass
class Tally:
    """Estimated spend of one provider over one period."""

    unit: str
    accepted: float = 0.0  # jobs with a provider job id
    uncertain: float = 0.0  # submits that may have been billed without an id coming back
    in_flight: float = 0.0  # claims whose submit is being sent right now (budget guard only)
    jobs: int = 0  # accepted + uncertain jobs
    unknown_cost: int = 0  # counted jobs without an estimate (not in the sums)

    @property
    def spent(self) -> float:
        """What the provider may bill: accepted plus uncertain."""
        return self.accepted + self.uncertain

    def add(self, kind: str, amount: float | None) -> None:
        if kind != "in_flight":
            self.jobs += 1
        if amount is None:
            if kind != "in_flight":
                self.unknown_cost += 1
            return
        setattr(self, kind, getattr(self, kind) + float(amount))

    def doc(self) -> dict[str, Any]:
        out = asdict(self)
        out["spent"] = round(self.spent, 6)
        for name in ("accepted", "uncertain", "in_flight"):
            out[name] = round(out[name], 6)
        return out


def _unit(record: JobRecord) -> str:
    return record.cost_unit or unit_of(record.provider)


def tally(records: Iterable[JobRecord], *, since: float, now: float) -> dict[str, Tally]:
    """provider -> Tally over the records created at or after ``since``."""
    out: dict[str, Tally] = {}
    for record in records:
        if record.created_at < since:
            continue
        kind = category(record, now)
        if kind is None:
            continue
        entry = out.setdefault(record.provider, Tally(unit=_unit(record)))
        entry.add(kind, record.cost_amount)
    return out


def committed(conn: sqlite3.Connection, unit: str, since: float, now: float) -> float:
    """Spent plus in flight, in ``unit``, since ``since``: what a new claim is checked against. Runs on
    the caller's connection, so inside the claim's write transaction it sees every committed claim."""
    return sum(
        float(r.cost_amount)
        for r in _records(conn, since)
        if _unit(r) == unit and r.cost_amount is not None and category(r, now) is not None
    )


@dataclass
class Spend:
    """Today's and this month's estimated spend per provider."""

    now: float
    day: dict[str, Tally] = field(default_factory=dict)
    month: dict[str, Tally] = field(default_factory=dict)
    days: dict[str, dict[str, Tally]] = field(default_factory=dict)  # "YYYY-MM-DD" -> provider -> Tally

    def total(self, period: str, unit: str) -> float:
        tallies = self.day if period == "day" else self.month
        return sum(t.spent for t in tallies.values() if t.unit == unit)

    def doc(self) -> dict[str, Any]:
        return {
            "day": datetime.fromtimestamp(self.now).strftime("%Y-%m-%d"),
            "month": datetime.fromtimestamp(self.now).strftime("%Y-%m"),
            "timezone": "local",
            "today": {p: t.doc() for p, t in sorted(self.day.items())},
            "this_month": {p: t.doc() for p, t in sorted(self.month.items())},
            "totals": {
                "today": {u: round(self.total("day", u), 6) for u in UNITS},
                "this_month": {u: round(self.total("month", u), 6) for u in UNITS},
            },
            "days": {d: {p: t.doc() for p, t in sorted(by.items())} for d, by in sorted(self.days.items())},
        }


def spend(journal: Journal | None = None, *, now: float | None = None, create: bool = True) -> Spend:
    """Read the journal once and tally today, this month and each day of this month. ``journal`` None
    is the default journal; with ``create`` False a journal that does not exist yet reads as empty."""
    now = time.time() if now is None else now
    start_month, start_day = month_start(now), day_start(now)
    records: list[JobRecord] = []
    if journal is not None or create or default_path().exists():
        with (journal or Journal())._connect() as conn:  # a read: no write lock taken
            records = _records(conn, start_month)
    result = Spend(now=now)
    result.month = tally(records, since=start_month, now=now)
    result.day = tally(records, since=start_day, now=now)
    by_day: dict[str, list[JobRecord]] = {}
    for record in records:
        by_day.setdefault(datetime.fromtimestamp(record.created_at).strftime("%Y-%m-%d"), []).append(record)
    result.days = {d: t for d, rs in by_day.items() if (t := tally(rs, since=start_month, now=now))}
    return result


def counted(record: JobRecord, *, now: float | None = None) -> bool:
    """Whether a record counts as (possibly) billed: the same rule as the sums."""
    return category(record, time.time() if now is None else now) in ("accepted", "uncertain")
