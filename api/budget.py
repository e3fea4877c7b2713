"""Daily and monthly spending caps, and the guard that enforces them atomically with a claim.

Caps come from the environment (``LTX2_BUDGET_DAILY_USD``, ``LTX2_BUDGET_MONTHLY_USD``,
``LTX2_BUDGET_DAILY_CREDITS``, ``LTX2_BUDGET_MONTHLY_CREDITS``), else from the config file's
``budget`` object (written by ``ltx2 config set-budget`` or the LTX-2 sidebar). Dollar caps cover GMI
Cloud and the LTX API together; credit caps cover API in One. A cap of 0 allows nothing; an empty or
absent one is no cap.

A job without an estimate is refused while a cap in its unit is set, unless unknown costs are allowed
(``LTX2_BUDGET_ALLOW_UNKNOWN_COST=1`` or ``allow_unknown_cost`` in the config file).
``LTX2_BUDGET=off`` turns every cap off for one process (the demo, which runs on the emulator).

The check runs inside the journal's write transaction that creates the request's record (see
``guard``): spent, uncertain and in-flight claims are summed on that connection, so two processes
cannot both pass a cap that only one of them fits.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import config, ledger
from .errors import BudgetExceededError, ConfigError
from .types import CostEstimate

# cap name -> (unit, period, environment variable)
CAPS: dict[str, tuple[str, str, str]] = {
    "daily_usd": ("USD", "day", "LTX2_BUDGET_DAILY_USD"),
    "monthly_usd": ("USD", "month", "LTX2_BUDGET_MONTHLY_USD"),
    "daily_credits": ("credits", "day", "LTX2_BUDGET_DAILY_CREDITS"),
    "monthly_credits": ("credits", "month", "LTX2_BUDGET_MONTHLY_CREDITS"),
}
ALLOW_UNKNOWN = "allow_unknown_cost"
ALLOW_UNKNOWN_ENV = "LTX2_BUDGET_ALLOW_UNKNOWN_COST"
# "off" turns every cap off for one process: runs against the emulator (``ltx2 demo``) spend nothing.
SWITCH_ENV = "LTX2_BUDGET"
MAX_CAP = 1e9
_OFF = ("", "off", "none", "unset")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

Guard = Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class Budget:
    caps: dict[str, float | None] = field(default_factory=dict)  # cap name -> amount (None = no cap)
    allow_unknown_cost: bool = False
    sources: dict[str, str] = field(default_factory=dict)  # cap name / ALLOW_UNKNOWN -> env|config|unset

    def cap(self, unit: str, period: str) -> float | None:
        for name, (cap_unit, cap_period, _env) in CAPS.items():
            if cap_unit == unit and cap_period == period:
                return self.caps.get(name)
        return None

    def any_cap(self, unit: str) -> bool:
        return any(self.cap(unit, period) is not None for period in ("day", "month"))

    def doc(self) -> dict[str, Any]:
        return {
            "caps": dict(self.caps),
            ALLOW_UNKNOWN: self.allow_unknown_cost,
            "sources": dict(self.sources),
            "env": {name: env for name, (_u, _p, env) in CAPS.items()} | {ALLOW_UNKNOWN: ALLOW_UNKNOWN_ENV},
        }


def parse_cap(value: Any, *, source: str) -> float | None:
    """A cap from text or a number: None for empty/"off", else a finite amount >= 0."""
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise ConfigError(f"Invalid budget {source} {value!r}: expected an amount such as 5 or 12.50.")
        return None
    if isinstance(value, str):
        text = value.strip().lower().lstrip("$")
        if text in _OFF:
            return None
        try:
            amount = float(text)
        except ValueError:
            raise ConfigError(
                f"Invalid budget {source} {value!r}: expected an amount such as 5 or 12.50 (or 'off')."
            ) from None
    elif isinstance(value, (int, float)):
        amount = float(value)
    else:
        raise ConfigError(f"Invalid budget {source}: expected an amount such as 5 or 12.50.")
    if not math.isfinite(amount) or amount < 0 or amount > MAX_CAP:
        raise ConfigError(f"Invalid budget {source} {value!r}: expected an amount from 0 to {MAX_CAP:g}.")
    return amount


def parse_flag(value: Any, *, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"Invalid {source} {value!r}: expected yes or no.")


def load() -> Budget:
    """The caps in force now (the environment first, then the config file)."""
    if os.environ.get(SWITCH_ENV, "").strip().lower() == "off":
        return Budget(
            caps=dict.fromkeys(CAPS),
            allow_unknown_cost=True,
            sources=dict.fromkeys([*CAPS, ALLOW_UNKNOWN], "env"),
        )
    path = config.config_path()
    section = config.load_budget_section(path)
    caps: dict[str, float | None] = {}
    sources: dict[str, str] = {}
    for name, (_unit, _period, env) in CAPS.items():
        raw_env = os.environ.get(env)
        if raw_env is not None and raw_env.strip():
            caps[name], sources[name] = parse_cap(raw_env, source=env), "env"
        elif section.get(name) is not None:
            caps[name] = parse_cap(section[name], source=f"'{name}' in {path}")
            sources[name] = "config"
        else:
            caps[name], sources[name] = None, "unset"
    raw_env = os.environ.get(ALLOW_UNKNOWN_ENV)
    if raw_env is not None and raw_env.strip():
        allow, sources[ALLOW_UNKNOWN] = parse_flag(raw_env, source=ALLOW_UNKNOWN_ENV), "env"
    elif section.get(ALLOW_UNKNOWN) is not None:
        allow = parse_flag(section[ALLOW_UNKNOWN], source=f"'{ALLOW_UNKNOWN}' in {path}")
        sources[ALLOW_UNKNOWN] = "config"
    else:
        allow, sources[ALLOW_UNKNOWN] = False, "unset"
    return Budget(caps=caps, allow_unknown_cost=allow, sources=sources)


def save(changes: dict[str, Any]) -> Budget:
    """Store caps (name -> amount, None or "off" removes it) and/or ``allow_unknown_cost`` in the
    config file, after checking every value; returns the budget now in force."""
    unknown = set(changes) - set(CAPS) - {ALLOW_UNKNOWN}
    if unknown:
        raise ConfigError(
            f"Unknown budget settings {sorted(unknown)}: expected {sorted([*CAPS, ALLOW_UNKNOWN])}."
        )
    section = dict(config.load_budget_section())
    for name, value in changes.items():
        if name == ALLOW_UNKNOWN:
            section[name] = parse_flag(value, source=ALLOW_UNKNOWN) or None
        else:
            section[name] = parse_cap(value, source=name)
    config.save_budget_section(section)
    return load()


def money(amount: float, unit: str) -> str:
    return f"${amount:,.2f}" if unit == "USD" else f"{amount:g} credits"


_PERIOD_WORDS = {"day": ("daily", "today"), "month": ("monthly", "this month")}


def check(
    conn: sqlite3.Connection,
    budget: Budget,
    provider_label: str,
    unit: str,
    cost: CostEstimate | None,
    *,
    now: float | None = None,
) -> None:
    """Raise BudgetExceededError when the claim of a job estimated at ``cost`` would cross a cap."""
    now = time.time() if now is None else now
    for period, start in (("day", ledger.day_start(now)), ("month", ledger.month_start(now))):
        cap = budget.cap(unit, period)
        if cap is None:
            continue
        adjective, when = _PERIOD_WORDS[period]
        name = next(n for n, (u, p, _e) in CAPS.items() if u == unit and p == period)
        source = CAPS[name][2] if budget.sources.get(name) == "env" else f"{name} in the config file"
        spent = ledger.committed(conn, unit, start, now)
        if cost is None:
            if budget.allow_unknown_cost:
                continue
            raise BudgetExceededError(
                f"Refused before sending: this {provider_label} job has no cost estimate, and the "
                f"{adjective} budget of {money(cap, unit)} ({source}) is set; {money(spent, unit)} is "
                f"spent or in flight {when}. Nothing was sent.",
                hint=f"Allow jobs without an estimate with {ALLOW_UNKNOWN_ENV}=1 or "
                f"'ltx2 config set-budget --allow-unknown-cost yes'.",
            )
        if spent + float(cost.amount) > cap + 1e-9:
            raise BudgetExceededError(
                f"Refused before sending: the {adjective} budget of {money(cap, unit)} ({source}) would be "
                f"crossed: {money(spent, unit)} is spent or in flight {when}, and this {provider_label} "
                f"job is estimated at {money(float(cost.amount), unit)}. Nothing was sent.",
            )


def _display_name(provider: str) -> str:
    try:
        from .providers import get_provider

        return get_provider(provider).display_name
    except Exception:
        return provider


def guard(
    provider: str, cost: CostEstimate | None, *, provider_label: str | None = None, also: Guard | None = None
) -> Guard | None:
    """The guard to pass to the journal's claim of a request (None when no cap applies to it and there
    is no ``also`` guard to run after it). The caps are read now; the sums when the guard runs, inside
    the claim's transaction."""
    budget = load()
    unit = cost.unit if cost is not None else ledger.unit_of(provider)
    if not budget.any_cap(unit):
        return also
    label = provider_label or _display_name(provider)

    def run(conn: sqlite3.Connection) -> None:
        check(conn, budget, label, unit, cost)
        if also is not None:
            also(conn)

    return run


def spend_report(journal: Any = None, *, now: float | None = None, create: bool = True) -> dict[str, Any]:
    """The ledger of today and this month with the budget in force and what is left of each cap: the
    one document behind ``ltx2 spend --json`` and the LTX-2 sidebar."""
    spend = ledger.spend(journal, now=now, create=create)
    doc = spend.doc()
    budget = load()
    doc["budget"] = budget.doc()
    limits: dict[str, Any] = {}
    for unit in ledger.UNITS:
        for period in ("day", "month"):
            cap = budget.cap(unit, period)
            spent = spend.total(period, unit)
            limits[f"{unit}_{period}"] = {
                "unit": unit,
                "period": period,
                "spent": round(spent, 6),
                "cap": cap,
                "left": None if cap is None else round(max(0.0, cap - spent), 6),
            }
    doc["limits"] = limits
    return doc
