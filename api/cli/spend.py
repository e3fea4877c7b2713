"""``ltx2 spend``: estimated spend per provider today and this month, against the budget."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .table import text_table


def add_spend(sub: argparse._SubParsersAction, debug_flag) -> None:
    p = sub.add_parser(
        "spend",
        help="estimated spend per provider today and this month, against the budget",
        description="Estimated spend per provider, from the job journal: jobs the provider accepted "
        "plus submits that may have been billed (uncertain); never refused submits or cached reruns. "
        "Days and months are local calendar days and months. USD for GMI Cloud and the LTX API, credits "
        "for API in One.",
    )
    debug_flag(p)
    p.add_argument("--month", action="store_true", help="each day of this month, not only the totals")
    p.add_argument("--json", action="store_true", help="one JSON document (spend, budget and what is left)")
    p.set_defaults(handler="spend")


def _display(provider: str) -> str:
    try:
        from ..providers import get_provider

        return get_provider(provider).display_name
    except Exception:
        return provider


def _amount(tally: dict[str, Any] | None, unit: str) -> str:
    from ..budget import money

    if not tally:
        return money(0.0, unit)
    text = money(tally["spent"], unit)
    if tally["unknown_cost"]:
        text += f" (+{tally['unknown_cost']} without estimate)"
    return text


def cmd_spend(args: argparse.Namespace) -> int:
    from ..budget import money, spend_report
    from ..ledger import unit_of

    doc = spend_report()
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"Estimated spend (local time): today {doc['day']}, this month {doc['month']}")
    providers = sorted(set(doc["today"]) | set(doc["this_month"]))
    if providers:
        rows = []
        for name in providers:
            unit = unit_of(name)
            month = doc["this_month"].get(name) or {}
            rows.append(
                [
                    _display(name),
                    _amount(doc["today"].get(name), unit),
                    _amount(month, unit),
                    month.get("jobs", 0),
                    money(month.get("uncertain", 0.0), unit) if month.get("uncertain") else "-",
                ]
            )
        print(text_table(("provider", "today", "this month", "jobs this month", "of it uncertain"), rows))
    else:
        print("No billed jobs this month.")
    lines = []
    for limit in doc["limits"].values():
        if limit["cap"] is None:
            continue
        when = "today" if limit["period"] == "day" else "this month"
        cap_name = "daily" if limit["period"] == "day" else "monthly"
        lines.append(
            f"{cap_name} {limit['unit']} cap: {money(limit['spent'], limit['unit'])} of "
            f"{money(limit['cap'], limit['unit'])} spent {when}, {money(limit['left'], limit['unit'])} left"
        )
    print()
    print("\n".join(lines) if lines else "No budget caps set (ltx2 config set-budget).")
    if args.month and doc["days"]:
        print()
        rows = [
            [day, _display(name), _amount(tally, unit_of(name)), tally["jobs"]]
            for day, by_provider in doc["days"].items()
            for name, tally in by_provider.items()
        ]
        print(text_table(("day", "provider", "spent", "jobs"), rows))
    return 0
