"""``ltx2 config``: where keys come from (never the key itself), and storing a key safely."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from .. import config
from ..providers import get_provider, provider_names
from ..redact import redact_text
from .common import CommandError
from .table import text_table


def key_sources(profile: str | None = None) -> dict[str, str]:
    """provider -> "env (VAR)", "config file" or "missing". Keys are looked up, never shown."""
    out: dict[str, str] = {}
    for name, source in config.key_status(profile).items():
        if source == "env":
            out[name] = f"env ({get_provider(name).key_env})"
        elif source == "config":
            out[name] = "config file" + (f" (profile {profile})" if profile else "")
        else:
            out[name] = "missing"
    return out


def _base_url(provider: str, profile: str | None) -> str:
    try:
        return redact_text(config.get_base_url(provider, profile=profile))
    except Exception as exc:  # a broken config file should not hide the rest of the report
        return f"unreadable ({type(exc).__name__})"


def cmd_show(profile: str | None) -> int:
    print(
        f"config file: {config.config_path()}"
        + ("  (from LTX2_CONFIG)" if os.environ.get("LTX2_CONFIG") else "")
    )
    print(f"data folder: {config.data_dir()}  (journal, caches)")
    if profile:
        print(f"profile:     {profile}")
    print()
    sources = key_sources(profile)
    rows = []
    for name in provider_names():
        provider = get_provider(name)
        rows.append(
            [
                name,
                provider.display_name,
                provider.key_env,
                sources.get(name, "missing"),
                _base_url(name, profile),
            ]
        )
    print(text_table(("provider", "name", "key variable", "key from", "base URL"), rows))
    print()
    print(text_table(("budget", "value", "from", "variable"), budget_rows()))
    return 0


def read_key(provider: str) -> str:
    """From stdin when piped, else a hidden prompt: a key never goes through argv or shell history."""
    display = get_provider(provider).display_name
    if sys.stdin is None or not sys.stdin.isatty():
        key = sys.stdin.readline() if sys.stdin is not None else ""
    else:
        key = getpass.getpass(f"{display} API key (input hidden): ")
    key = key.strip(" \t\r\n")  # any other invisible character is refused by save_key, by name
    if not key:
        raise CommandError(f"no key given for {display}: pipe it on stdin or type it at the prompt")
    return key


def cmd_set_key(provider: str, profile: str | None) -> int:
    key = read_key(provider)
    config.save_key(provider, key, profile=profile)
    display = get_provider(provider).display_name
    where = f" (profile {profile})" if profile else ""
    print(f"Saved the {display} key{where} in {config.config_path()}")
    env_var = get_provider(provider).key_env
    # A profile's own key comes before the environment; the plain key comes after it.
    if config.key_status(profile).get(provider) == "env":
        print(f"Note: {env_var} is set in this environment and takes precedence over the config file.")
    return 0


def add_delete_key(csub: argparse._SubParsersAction, debug_flag, providers: tuple[str, ...]) -> None:
    pd = csub.add_parser("delete-key", help="remove a stored key from the config file")
    debug_flag(pd)
    pd.add_argument("provider", choices=providers, help="whose stored key to remove")
    pd.add_argument("--profile", help="named key set in the config file")


def cmd_delete_key(provider: str, profile: str | None) -> int:
    path = config.remove_key(provider, profile)
    display = get_provider(provider).display_name
    print(f"Removed the stored {display} key{f' (profile {profile})' if profile else ''} from {path}")
    if config.key_status(profile).get(provider) == "env":
        print(f"Note: {get_provider(provider).key_env} is still set in this environment.")
    return 0


def add_set_budget(csub: argparse._SubParsersAction, debug_flag) -> None:
    from ..budget import CAPS

    pb = csub.add_parser(
        "set-budget",
        help="daily / monthly spending caps (USD for GMI Cloud and the LTX API, credits for API in One)",
        description="Store spending caps in the config file; the environment variables named in "
        "'ltx2 spend' take precedence. A submit whose estimate would cross a cap is refused before "
        "anything is sent. Without options: show the caps in force.",
    )
    debug_flag(pb)
    for name, (unit, period, env) in CAPS.items():
        pb.add_argument(
            "--" + name.replace("_", "-"),
            metavar="AMOUNT",
            help=f"{'daily' if period == 'day' else 'monthly'} cap in {unit} ('off' removes it; "
            f"{env} overrides it)",
        )
    pb.add_argument(
        "--allow-unknown-cost",
        choices=("yes", "no"),
        help="let jobs without a cost estimate run while a cap is set (default no)",
    )


def budget_rows() -> list[list[str]]:
    from ..budget import ALLOW_UNKNOWN, ALLOW_UNKNOWN_ENV, CAPS, load, money

    budget = load()
    rows = []
    for name, (unit, _period, env) in CAPS.items():
        cap = budget.caps.get(name)
        rows.append([name, "-" if cap is None else money(cap, unit), budget.sources.get(name, "unset"), env])
    rows.append(
        [
            ALLOW_UNKNOWN,
            "yes" if budget.allow_unknown_cost else "no",
            budget.sources.get(ALLOW_UNKNOWN, "unset"),
            ALLOW_UNKNOWN_ENV,
        ]
    )
    return rows


def cmd_set_budget(args: argparse.Namespace) -> int:
    from ..budget import ALLOW_UNKNOWN, CAPS, save

    changes: dict[str, object] = {}
    for name in CAPS:
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if args.allow_unknown_cost is not None:
        changes[ALLOW_UNKNOWN] = args.allow_unknown_cost
    if changes:
        save(changes)
        print(f"Saved the budget in {config.config_path()}")
    print(text_table(("setting", "value", "from", "variable"), budget_rows()))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    if args.config_command == "set-key":
        return cmd_set_key(args.provider, args.profile)
    if args.config_command == "set-budget":
        return cmd_set_budget(args)
    if args.config_command == "delete-key":
        return cmd_delete_key(args.provider, args.profile)
    return cmd_show(getattr(args, "profile", None))
