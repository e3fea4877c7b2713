"""Keys and base URLs from the environment and a user config file, never from a graph.

Config file (JSON, ``$LTX2_CONFIG`` or ``<user config dir>/ltx2-nodes/config.json``)::

    {
      "keys": {"gmi": "...", "apiinone": "...", "ltx": "..."},
      "base_urls": {"gmi": "https://..."},
      "profiles": {"work": {"keys": {...}, "base_urls": {...}, "s3": {...}}},
      "s3": {"bucket": "...", "endpoint_url": "https://...", "region": "...", "prefix": "ltx2-inputs/",
             "url_ttl": 21600, "delete_after": false},
      "journal_url": "postgresql://user:password@host:5432/ltx2"
    }

Keys: the environment variable wins, then the config file. A profile named explicitly is a
deliberate choice of account, so its own key comes before the environment variable; a provider
the profile does not list falls back to the environment and then the top-level keys. S3 storage
settings (``LTX2_S3_*`` or the ``s3`` section) follow the same order, field by field; S3 credentials
are never read here: they come from boto3's own chain (``AWS_*`` variables, shared files, profiles).
A farm's shared journal (``LTX2_JOURNAL_URL``, else ``journal_url``) holds a password: it is registered
as a secret and shown only without it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import urlpolicy
from .errors import ConfigError, MissingKeyError
from .files import write_text_atomic
from .redact import register_secret
from .urlpolicy import is_loopback_host  # the one loopback rule (also importable from here)

APP_NAME = "ltx2-nodes"
CONFIG_ENV = "LTX2_CONFIG"
DATA_DIR_ENV = "LTX2_DATA_DIR"
MAX_DOWNLOAD_ENV = "LTX2_MAX_DOWNLOAD_MB"
DEFAULT_MAX_DOWNLOAD_BYTES = 4 << 30

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
    register_configured_keys(data)
    return data


def _key_tables(cfg: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(profile or None, its "keys" table) for the top level and every profile."""
    tables: list[tuple[str | None, dict[str, Any]]] = []
    if isinstance(cfg.get("keys"), dict):
        tables.append((None, cfg["keys"]))
    profiles = cfg.get("profiles")
    if isinstance(profiles, dict):
        for name, section in profiles.items():
            if isinstance(section, dict) and isinstance(section.get("keys"), dict):
                tables.append((str(name), section["keys"]))
    return tables


def register_configured_keys(cfg: dict[str, Any] | None = None) -> None:
    """Register every key this process can see (every provider's environment variable, every key
    of the config file and of each of its profiles) for redaction, valid or not: a key that is
    never used still never appears in anything printed or stored."""
    from .providers import get_provider, provider_names

    values: list[Any] = [os.environ.get(get_provider(name).key_env) for name in provider_names()]
    for _profile, table in _key_tables(cfg or {}):
        values.extend(table.values())
    for value in values:
        if isinstance(value, str):
            _register_key(value)


def _register_key(value: str) -> None:
    register_secret(value)
    register_secret(value.strip())
    # The visible runs of a key broken by control or invisible characters: none of them may show.
    for piece in _INVISIBLE_RUN.split(value):
        if len(piece) >= 8:
            register_secret(piece)


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
        return value if table == "keys" else value.strip()  # a key is checked as written
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


# Anything that is not visible printable ASCII: control characters, spaces of every kind (NBSP,
# ideographic), zero-width characters, the BOM, bidi marks, any non-ASCII letter. A key is sent in an
# HTTP header, where such a character either fails to encode or silently changes the key.
_INVISIBLE_RUN = re.compile(r"[^\x21-\x7e]+")


def _char_name(ch: str) -> str:
    name = unicodedata.name(ch, "")
    if not name:
        name = {"\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\t": "TAB"}.get(ch, "control character")
    return f"U+{ord(ch):04X} {name}"


# Plain spaces, tabs and line breaks around a key are an artefact of copying or of a file's last
# line, and are dropped; any other invisible character, or whitespace inside the key, is refused.
_KEY_TRIM = " \t\r\n"


def check_key(value: str, where: str) -> str:
    """``value`` (without surrounding spaces and line breaks) when it is a usable key - visible ASCII
    characters only - else ConfigError naming ``where`` ("in the environment variable X", ...) and
    the first bad character, never the key."""
    value = value.strip(_KEY_TRIM)
    match = _INVISIBLE_RUN.search(value)
    if match is None:
        return value
    if match.start() == 0:
        place = "at its start"
    elif match.end() == len(value):
        place = "at its end"
    else:
        place = f"after character {match.start()}"
    raise ConfigError(
        f"The key {where} contains an invisible or control character ({_char_name(match.group()[0])}) "
        f"{place}. Keys are visible characters only: copy it again from the provider's dashboard and "
        f"set it again (no spaces, line breaks or formatting characters)."
    )


def _find_key(provider: str, profile: str | None) -> tuple[str | None, KeySource, str]:
    """The key as written (unchecked), where it came from, and that place in words."""
    prov = _provider(provider)
    path = config_path()
    cfg = load_config(path)
    section = _section(cfg, profile, path)
    entry = f'"keys" -> "{prov.name}"'
    if profile:
        value = _lookup(section, "keys", prov.name)
        if value:
            return value, "config", f'in the config file {path} ("profiles" -> "{profile}" -> {entry})'
    env_value = os.environ.get(prov.key_env, "")
    if env_value.strip():
        register_configured_keys()
        return env_value, "env", f"in the environment variable {prov.key_env}"
    value = _lookup(cfg, "keys", prov.name)
    if value:
        return value, "config", f"in the config file {path} ({entry})"
    return None, "missing", ""


def get_api_key(provider: str, profile: str | None = None) -> str:
    """Key for a provider (env var first, then the config file; ``profile`` picks a named key set).
    Raises MissingKeyError that says exactly where to put it, and ConfigError (before any request)
    when the key holds a control or invisible character."""
    key, _source, where = _find_key(provider, profile)
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
    _register_key(key)
    return check_key(key, where)


def key_status(profile: str | None = None) -> dict[str, KeySource]:
    """Where each provider's key would come from: "env", "config" or "missing". Never the key."""
    from .providers import provider_names

    status: dict[str, KeySource] = {}
    for name in provider_names():
        key, source, _where = _find_key(name, profile)
        if key is not None:
            _register_key(key)  # it is in memory now: make sure it can never be logged
        status[name] = source
    return status


def save_key(provider: str, key: str, profile: str | None = None) -> Path:
    """Write (or, with an empty key, remove) a provider's key in the config file, mode 0600."""
    prov = _provider(provider)
    key = key or ""
    if key.strip(_KEY_TRIM):
        _register_key(key)
        key = check_key(
            key, f"given for {prov.display_name}" + (f" (profile '{profile}')" if profile else "")
        )
    else:
        key = ""
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
    write_text_atomic(path, text, prefix=".config-", private=True)


# --- download cap ---------------------------------------------------------------------------------------


def max_download_bytes() -> int:
    """The largest result download: ``$LTX2_MAX_DOWNLOAD_MB`` (MiB) or 4 GiB."""
    raw = os.environ.get(MAX_DOWNLOAD_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_DOWNLOAD_BYTES
    try:
        mb = float(raw)
    except ValueError:
        mb = float("nan")
    if not 0 < mb <= 1 << 20:  # NaN fails too
        raise ConfigError(
            f"{MAX_DOWNLOAD_ENV}={raw!r} is not a size: expected a number of MB above 0 and up to "
            f"{1 << 20} (e.g. 2048)."
        )
    return max(1, int(mb * (1 << 20)))


# --- base URLs -------------------------------------------------------------------------------------------


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


# --- S3-compatible storage for input media (hosting method "s3") ---------------------------------------

S3_ENV: dict[str, str] = {
    "bucket": "LTX2_S3_BUCKET",
    "endpoint_url": "LTX2_S3_ENDPOINT_URL",  # non-AWS services (R2, B2, MinIO, GCS); empty = AWS
    "region": "LTX2_S3_REGION",
    "prefix": "LTX2_S3_PREFIX",
    "url_ttl": "LTX2_S3_URL_TTL",  # seconds a presigned GET URL lives
    "delete_after": "LTX2_S3_DELETE_AFTER",  # delete the objects once the job is collected
    "addressing_style": "LTX2_S3_ADDRESSING_STYLE",  # "path" or "virtual"
    "aws_profile": "LTX2_S3_AWS_PROFILE",  # a profile of the shared AWS files (never a key)
}
S3_DEFAULT_PREFIX = "ltx2-inputs/"
S3_DEFAULT_URL_TTL = 6 * 3600  # long enough for a queued job; LTX keeps its own uploads 1 h
S3_URL_TTL_RANGE = (60, 7 * 24 * 3600)  # SigV4 presigned URLs live at most 7 days
S3_ADDRESSING_STYLES = ("path", "virtual")
_S3_CREDENTIAL_WORDS = ("secret", "access_key", "token", "password", "credential")
_BUCKET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")
_REGION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_PREFIX_CHARS = re.compile(r"^[A-Za-z0-9._/=-]*$")
_PROFILE_CHARS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@+-]{0,127}$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class S3Settings:
    """Where and how input media are stored for the ``s3`` hosting method. Holds no credentials.

    ``sources`` tells for each field where its value came from (an environment variable or a field
    of the config file), so an error can name the setting to fix."""

    bucket: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    prefix: str = S3_DEFAULT_PREFIX
    url_ttl: int = S3_DEFAULT_URL_TTL
    delete_after: bool = False
    addressing_style: str = "virtual"
    aws_profile: str | None = None
    sources: tuple[tuple[str, str], ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.bucket)

    def setting(self, name: str) -> str:
        """The setting a user changes to fix ``name``: where it was set, else its environment variable."""
        return dict(self.sources).get(name) or S3_ENV[name]


def _s3_section(section: dict[str, Any], path: Path, where: str) -> dict[str, Any]:
    values = section.get("s3")
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"'s3' in {where}the config file {path} must be a JSON object.")
    for name in values:
        lowered = str(name).lower()
        if any(word in lowered for word in _S3_CREDENTIAL_WORDS):
            # The value is never shown: it may be a secret.
            raise ConfigError(
                f"'s3.{name}' in {where}the config file {path} is not read: S3 credentials come only from "
                f"AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, the shared AWS credentials file or an AWS "
                f"profile (LTX2_S3_AWS_PROFILE). Remove it from the config file."
            )
        if name not in S3_ENV:
            raise ConfigError(
                f"Unknown setting 's3.{name}' in {where}the config file {path}. Known: {', '.join(S3_ENV)}."
            )
    return values


def _s3_value(name: str, raw: Any, source: str) -> Any:
    """One S3 setting, checked. ConfigError naming ``source`` and what is allowed."""
    if name == "url_ttl":
        lo, hi = S3_URL_TTL_RANGE
        try:
            if isinstance(raw, bool):
                seconds = None
            elif isinstance(raw, float):
                seconds = int(raw) if raw.is_integer() else None
            else:
                seconds = int(str(raw).strip())
        except ValueError:
            seconds = None
        if seconds is None or not lo <= seconds <= hi:
            raise ConfigError(
                f"Invalid {source} = {str(raw)[:40]!r}: expected whole seconds from {lo} to {hi} "
                f"(default {S3_DEFAULT_URL_TTL}, {S3_DEFAULT_URL_TTL // 3600} h)."
            )
        return seconds
    if name == "delete_after":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ConfigError(f"Invalid {source} = {str(raw)[:40]!r}: expected true or false (1 or 0).")
    text = str(raw).strip() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else None
    if text is None:
        raise ConfigError(f"Invalid {source}: expected a string.")
    if name == "bucket":
        if not _BUCKET_NAME.match(text):
            raise ConfigError(
                f"Invalid {source} = {text[:80]!r}: expected a bucket name (letters, digits, '.', '-', '_'; "
                f"no 's3://' and no '/'); put a folder into LTX2_S3_PREFIX."
            )
        return text
    if name == "endpoint_url":
        parts = urlsplit(text)
        if parts.username or parts.password:
            raise ConfigError(
                f"Invalid {source}: the URL carries credentials; S3 credentials belong in AWS_ACCESS_KEY_ID / "
                f"AWS_SECRET_ACCESS_KEY or an AWS profile."
            )
        url = check_base_url(text, source=source)
        host = (urlsplit(url).hostname or "").strip("[]")
        literal = urlpolicy.literal_address(host)
        if literal is not None and urlpolicy.address_problem(literal) is not None:
            raise ConfigError(
                f"Invalid {source} {url!r}: a hosted provider cannot fetch media from a private, link-local "
                f"or reserved address; use the storage's public https:// endpoint."
            )
        return url
    if name == "region":
        if not _REGION_NAME.match(text):
            raise ConfigError(
                f"Invalid {source} = {text[:40]!r}: expected a region name such as eu-west-1 or auto."
            )
        return text
    if name == "prefix":
        prefix = text.lstrip("/")
        if not _PREFIX_CHARS.match(prefix) or ".." in prefix.split("/") or "//" in prefix:
            raise ConfigError(
                f"Invalid {source} = {text[:80]!r}: expected a folder such as ltx2-inputs/ (letters, digits, "
                f"'.', '_', '-', '=', '/')."
            )
        return prefix if not prefix or prefix.endswith("/") else prefix + "/"
    if name == "addressing_style":
        style = text.lower()
        if style not in S3_ADDRESSING_STYLES:
            raise ConfigError(f"Invalid {source} = {text[:40]!r}: expected path or virtual.")
        return style
    if not _PROFILE_CHARS.match(text):  # aws_profile
        raise ConfigError(f"Invalid {source}: expected the name of a profile in the shared AWS files.")
    return text


def s3_settings(profile: str | None = None) -> S3Settings:
    """S3 storage settings: the profile's ``s3`` section, then ``LTX2_S3_*``, then the top-level ``s3``
    section, field by field. Every value is checked here, before anything is uploaded."""
    path = config_path()
    cfg = load_config(path)
    layers: list[tuple[dict[str, Any], str]] = []
    if profile:
        layers.append(
            (_s3_section(_section(cfg, profile, path), path, f"profile '{profile}' of "), "profile")
        )
    layers.append(({}, "env"))
    layers.append((_s3_section(cfg, path, ""), "top"))
    values: dict[str, Any] = {}
    sources: list[tuple[str, str]] = []
    for name, env_name in S3_ENV.items():
        for layer, kind in layers:
            if kind == "env":
                raw: Any = os.environ.get(env_name, "")
                if not str(raw).strip():
                    continue
                source = env_name
            else:
                raw = layer.get(name)
                if raw is None or (isinstance(raw, str) and not raw.strip()):
                    continue
                where = f"profile '{profile}' of " if kind == "profile" else ""
                source = f"'s3.{name}' in {where}the config file {path}"
            values[name] = _s3_value(name, raw, source)
            sources.append((name, source))
            break
    if "addressing_style" not in values:
        # Custom endpoints (MinIO, R2, B2, GCS, loopback servers) all serve path-style requests; AWS
        # prefers virtual-hosted ones.
        values["addressing_style"] = "path" if values.get("endpoint_url") else "virtual"
    return S3Settings(**values, sources=tuple(sources))


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


# --- the shared job journal (a farm) ---------------------------------------------------------------
JOURNAL_URL_ENV = "LTX2_JOURNAL_URL"
_JOURNAL_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class JournalURL:
    """Where a farm's shared journal lives. ``url`` holds the password (a secret, registered with
    redaction); ``shown`` is the same URL without it, for messages and ``ltx2 config show``."""

    url: str
    shown: str
    source: str


def url_without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    netloc = f"{user}:***@{host}" if user else f":***@{host}"
    return parts._replace(netloc=netloc).geturl()


def journal_url(cfg: dict[str, Any] | None = None) -> JournalURL | None:
    """The shared journal's URL (``LTX2_JOURNAL_URL``, else ``journal_url`` in the config file), or
    None for the embedded journal in the data folder. Its password is registered as a secret."""
    raw = os.environ.get(JOURNAL_URL_ENV, "").strip()
    source = f"the environment variable {JOURNAL_URL_ENV}"
    if not raw:
        cfg = load_config() if cfg is None else cfg
        value = cfg.get("journal_url")
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            raise ConfigError(
                f"'journal_url' in the config file {config_path()} must be a string like "
                "postgresql://user:password@host:5432/ltx2."
            )
        raw, source = value.strip(), f"'journal_url' in the config file {config_path()}"
    try:
        parts = urlsplit(raw)
        password = parts.password
        _ = parts.port
    except ValueError:
        raise ConfigError(
            f"The journal URL in {source} is not a valid URL.",
            hint="Use postgresql://user:password@host:5432/database.",
        ) from None
    if password:
        register_secret(password)
        from urllib.parse import unquote

        register_secret(unquote(password))
    shown = url_without_password(raw)
    if parts.scheme.lower() not in _JOURNAL_SCHEMES or (not parts.hostname and not parts.query):
        raise ConfigError(
            f"The journal URL in {source} must be a postgresql:// URL (got {shown.split(':', 1)[0]}:...).",
            hint="Use postgresql://user:password@host:5432/database, or unset it for the journal in the data folder.",
        )
    return JournalURL(url=raw, shown=shown, source=source)
