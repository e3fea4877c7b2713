"""Keys and base URLs from the environment and a user config file, never from a graph.

Config file (JSON, ``$LTX2_CONFIG`` or ``<user config dir>/ltx2-nodes/config.json``)::

    {
      "keys": {"gmi": "...", "apiinone": "...", "ltx": "..."},
      "base_urls": {"gmi": "https://..."},
      "profiles": {"work": {"keys": {...}, "base_urls": {...}}}
    }

Keys: the environment variable wins, then the config file. A profile named explicitly is a
deliberate choice of account, so its own key comes before the environment variable; a provider
the profile does not list falls back to the environment and then the top-level keys.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError, MissingKeyError
from .redact import register_secret

APP_NAME = "ltx2-nodes"
CONFIG_ENV = "LTX2_CONFIG"
DATA_DIR_ENV = "LTX2_DATA_DIR"

KeySource = str  # "env" | "config" | "missing"


@dataclass(frozen=True)
class ProviderSettings:
    provider: str
    api_key: str
    base_url: str


# --- paths ---------------------------------------------------------------------------------------


def config_path() -> Path:
    """$LTX2_CONFIG, else <platform user config dir>/ltx2-nodes/config.json."""
    override = os.environ.get(CONFIG_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.json"


def data_dir() -> Path:
    """Where the journal and caches live: $LTX2_DATA_DIR, else ComfyUI's user dir when inside ComfyUI,
    else <platform user data dir>/ltx2-nodes. Created on demand."""
    override = os.environ.get(DATA_DIR_ENV, "").strip()
    path = Path(override).expanduser() if override else (_comfy_user_dir() or _platform_data_dir())
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the data folder {path}: {exc}. Set {DATA_DIR_ENV} to a writable folder."
        ) from exc
    return path


def _comfy_user_dir() -> Path | None:
    """<ComfyUI user directory>/ltx2-nodes when running inside ComfyUI (its ``folder_paths`` is importable)."""
    module = sys.modules.get("folder_paths")
    if module is None:
        try:
            import folder_paths as module  # type: ignore[import-not-found,no-redef]
        except Exception:  # not inside ComfyUI (or a broken install): use the platform folder
            return None
    getter = getattr(module, "get_user_directory", None)
    if getter is None:
        return None
    try:
        return Path(getter()) / APP_NAME
    except Exception:
        return None


def _platform_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


# --- the config file -------------------------------------------------------------------------------


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed config file; {} when it does not exist. ConfigError when it cannot be read."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc}.") from exc
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # The position only: the text may hold keys.
        raise ConfigError(
            f"The config file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}). "
            f"Fix it or delete it and set the keys again."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"The config file {path} must hold a JSON object, like {_example('gmi')}.")
    return data


def _section(cfg: dict[str, Any], profile: str | None, path: Path) -> dict[str, Any]:
    """The profile's section ({} without a profile). ConfigError naming the profiles that exist."""
    if not profile:
        return {}
    profiles = cfg.get("profiles")
    if not isinstance(profiles, dict) or profile not in profiles:
        names = sorted(profiles) if isinstance(profiles, dict) else []
        have = ", ".join(names) if names else "none"
        raise ConfigError(
            f"No profile '{profile}' in the config file {path}. Profiles there: {have}. "
            f'Add one as {{"profiles": {{"{profile}": {{"keys": {{...}}}}}}}} or run '
            f"'ltx2 config set-key PROVIDER --profile {profile}'."
        )
    section = profiles[profile]
    if not isinstance(section, dict):
        raise ConfigError(f"Profile '{profile}' in the config file {path} must be a JSON object.")
    return section


def _lookup(section: dict[str, Any], table: str, provider: str) -> str | None:
    values = section.get(table)
    if not isinstance(values, dict):
        return None
    value = values.get(provider)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _provider(name: Any) -> Any:
    """A provider by name or display name; a Provider instance is taken as it is."""
    from .providers import get_provider

    if not isinstance(name, str) and hasattr(name, "key_env"):
        return name
    return get_provider(name)


def _example(provider: str, profile: str | None = None) -> str:
    placeholder = f"<your {provider} key>"
    keys = {"keys": {provider: placeholder}}
    return json.dumps({"profiles": {profile: keys}} if profile else keys)


# --- keys ----------------------------------------------------------------------------------------------


def _find_key(provider: str, profile: str | None) -> tuple[str | None, KeySource]:
    prov = _provider(provider)
    path = config_path()
    cfg = load_config(path)
    section = _section(cfg, profile, path)
    if profile:
        value = _lookup(section, "keys", prov.name)
        if value:
            return value, "config"
    env_value = os.environ.get(prov.key_env, "").strip()
    if env_value:
        return env_value, "env"
    value = _lookup(cfg, "keys", prov.name)
    if value:
        return value, "config"
    return None, "missing"


def get_api_key(provider: str, profile: str | None = None) -> str:
    """Key for a provider (env var first, then the config file; ``profile`` picks a named key set).
    Raises MissingKeyError that says exactly where to put it."""
    key, _source = _find_key(provider, profile)
    if key is None:
        prov = _provider(provider)
        path = config_path()
        where = f"profile '{profile}' of " if profile else ""
        raise MissingKeyError(
            f"No API key for {prov.display_name}. Set the environment variable {prov.key_env}, or put the key in "
            f"{where}the config file {path} as {_example(prov.name, profile)}, or run "
            f"'ltx2 config set-key {prov.name}{' --profile ' + profile if profile else ''}'.",
            provider=prov.name,
        )
    register_secret(key)
    return key


def key_status(profile: str | None = None) -> dict[str, KeySource]:
    """Where each provider's key would come from: "env", "config" or "missing". Never the key."""
    from .providers import provider_names

    status: dict[str, KeySource] = {}
    for name in provider_names():
        key, source = _find_key(name, profile)
        if key is not None:
            register_secret(key)  # it is in memory now: make sure it can never be logged
        status[name] = source
    return status


def save_key(provider: str, key: str, profile: str | None = None) -> Path:
    """Write (or, with an empty key, remove) a provider's key in the config file, mode 0600."""
    prov = _provider(provider)
    key = (key or "").strip()
    if any(ch.isspace() for ch in key):
        raise ConfigError(
            f"The {prov.display_name} key must be a single token without spaces or line breaks."
        )
    if key:
        register_secret(key)
    path = config_path()
    cfg = load_config(path)
    target = cfg
    if profile:
        profiles = cfg.setdefault("profiles", {})
        if not isinstance(profiles, dict):
            raise ConfigError(f"'profiles' in the config file {path} must be a JSON object.")
        target = profiles.setdefault(profile, {})
        if not isinstance(target, dict):
            raise ConfigError(f"Profile '{profile}' in the config file {path} must be a JSON object.")
    keys = target.setdefault("keys", {})
    if not isinstance(keys, dict):
        raise ConfigError(f"'keys' in the config file {path} must be a JSON object.")
    if key:
        keys[prov.name] = key
    else:
        keys.pop(prov.name, None)
    _write_private(path, json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return path


def _write_private(path: Path, text: str) -> None:
    """Atomic write readable by the owner only (the file holds keys)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --- base URLs -------------------------------------------------------------------------------------------


def is_loopback_host(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (plain http is allowed only there)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, *, source: str = "base URL") -> str:
    """A normalized base URL (no trailing slash). https anywhere; http only for loopback hosts."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"Invalid {source} {url!r}: expected an https:// URL (http:// only for localhost).")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"Invalid {source} {url!r}: plain http is allowed only for loopback hosts "
            f"(localhost, 127.0.0.1, ::1); use https://{parts.netloc}{parts.path}."
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"Invalid {source} {url!r}: a base URL cannot have a query or fragment.")
    return url.rstrip("/")


def get_base_url(provider: str, override: str | None = None, *, profile: str | None = None) -> str:
    """``override``, else $LTX2_<P>_BASE_URL, else config file (profile first), else the provider's default."""
    prov = _provider(provider)
    if override and override.strip():
        return check_base_url(override, source=f"{prov.display_name} base URL")
    env_value = os.environ.get(prov.base_url_env, "").strip()
    if env_value:
        return check_base_url(env_value, source=f"{prov.base_url_env}")
    path = config_path()
    cfg = load_config(path)
    for section in (_section(cfg, profile, path), cfg):
        value = _lookup(section, "base_urls", prov.name)
        if value:
            return check_base_url(value, source=f"{prov.display_name} base URL in {path}")
    return check_base_url(prov.default_base_url, source=f"{prov.display_name} default base URL")


def resolve(provider: str, *, profile: str | None = None, base_url: str | None = None) -> ProviderSettings:
    """Key and base URL for a provider. The base URL is checked first so a bad URL never meets a key."""
    name = _provider(provider).name
    url = get_base_url(name, base_url, profile=profile)
    key = get_api_key(name, profile)
    return ProviderSettings(provider=name, api_key=key, base_url=url)


# --- budget ----------------------------------------------------------------------------------------------
# The caps themselves are read and checked by ``budget``; here only where they are stored.

BUDGET_SECTION = "budget"


def remove_key(provider: str, profile: str | None = None) -> Path:
    """Remove a provider's stored key from the config file (an explicit delete; saving an empty key
    through the sidebar is refused, so a key is never wiped by accident)."""
    return save_key(provider, "", profile)


def load_budget_section(path: Path | None = None) -> dict[str, Any]:
    """The config file's ``budget`` object ({} when absent)."""
    path = path or config_path()
    section = load_config(path).get(BUDGET_SECTION)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"'{BUDGET_SECTION}' in the config file {path} must be a JSON object.")
    return section


def save_budget_section(values: dict[str, Any]) -> Path:
    """Replace the config file's ``budget`` object (atomic, mode 0600 like the rest of the file);
    entries whose value is None are removed."""
    path = config_path()
    cfg = load_config(path)
    cleaned = {name: value for name, value in values.items() if value is not None}
    if cleaned:
        cfg[BUDGET_SECTION] = cleaned
    else:
        cfg.pop(BUDGET_SECTION, None)
    _write_private(path, json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return path
