"""LTX-2 Provider Settings: per-graph choices that are not secrets (key profile, base URL,
hosting, poll timeout, cache). Keys never enter a graph: they live in the environment or the
ltx2 config file, and a value that looks like a key is refused."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..api.errors import InvalidInputError
from ..api.hosting import HOSTING_METHODS

SETTINGS_TYPE = "LTX2_SETTINGS"
POLL_INTERVAL_ENV = "LTX2_POLL_INTERVAL"
HOSTING_CHOICES = HOSTING_METHODS
MAX_PROFILE_LENGTH = 40
_KEY_PREFIXES = ("aio_", "sk-", "bearer", "gmi_", "ltx_")
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")


@dataclass(frozen=True)
class LTX2Settings:
    """The ``LTX2_SETTINGS`` value a generation node receives."""

    key_profile: str = ""  # named key set in the config file; empty = the default keys
    base_url: str = ""  # empty = the provider's default (or $LTX2_<P>_BASE_URL)
    hosting: str = "auto"
    poll_timeout: int = 1800  # seconds
    use_cache: bool = True
    poll_interval: float = 0.0  # seconds between status polls; 0 = $LTX2_POLL_INTERVAL or the provider's

    def __post_init__(self) -> None:
        check_profile(self.key_profile)
        check_base_url(self.base_url)
        if self.hosting not in HOSTING_CHOICES:
            raise InvalidInputError("hosting", self.hosting, ", ".join(HOSTING_CHOICES))
        if self.poll_timeout <= 0:
            raise InvalidInputError("poll_timeout", self.poll_timeout, "a number of seconds above 0")
        if self.poll_interval < 0:
            raise InvalidInputError(
                "poll_interval", self.poll_interval, "0 (provider default) or seconds above 0"
            )

    def effective_poll_interval(self) -> float | None:
        """The interval to use: this setting, else ``$LTX2_POLL_INTERVAL``, else None (provider default)."""
        if self.poll_interval > 0:
            return float(self.poll_interval)
        try:
            value = float(os.environ.get(POLL_INTERVAL_ENV, "") or 0)
        except ValueError:
            return None
        return value if value > 0 else None


def check_profile(value: str) -> None:
    """Refuse anything that looks like a key; the key itself never appears in the message."""
    text = (value or "").strip()
    if not text:
        return
    if (
        len(text) > MAX_PROFILE_LENGTH
        or text.lower().startswith(_KEY_PREFIXES)
        or not _PROFILE_NAME.match(text)
    ):
        raise InvalidInputError(
            "key_profile",
            "(hidden: it looks like an API key)",
            f"the name of a key profile from the ltx2 config file (letters, digits, '.', '_', '-', at most "
            f"{MAX_PROFILE_LENGTH} characters)",
            reason="API keys must not be typed into a workflow, where they would be saved and shared; keys "
            "belong in environment variables (GMI_API_KEY, APIINONE_API_KEY, LTX_API_KEY) or the ltx2 "
            "config file (ltx2 config set-key)",
        )


_BASE_URL_ALLOWED = (
    "empty (the provider's default), an https:// URL, or http:// on this machine (localhost, 127.0.0.1, "
    "::1), without query or fragment"
)


def check_base_url(value: str) -> None:
    from ..api.config import check_base_url as check_url
    from ..api.errors import LTX2Error

    text = (value or "").strip()
    if text and not re.match(r"^https?://[^\s/]+", text):
        raise InvalidInputError("base_url", text, _BASE_URL_ALLOWED)
    if text and re.search(r"(?i)[?&](key|token|api_key|apikey)=|//[^/@\s]+:[^/@\s]+@", text):
        raise InvalidInputError(
            "base_url",
            "(hidden: it carries a credential)",
            "a base URL without keys; keys belong in environment variables or the config file",
        )
    if text:
        try:  # the rule every run applies (no plain http to a remote host): refused here already
            check_url(text)
        except LTX2Error:
            raise InvalidInputError("base_url", text, _BASE_URL_ALLOWED) from None


class LTX2ProviderSettings:
    """Optional settings for the LTX-2 generation nodes."""

    CATEGORY = "LTX-2"
    FUNCTION = "build"
    RETURN_TYPES = (SETTINGS_TYPE,)
    RETURN_NAMES = ("settings",)
    DESCRIPTION = (
        "Key profile, base URL, media hosting, poll timeout and result cache for LTX-2 nodes. "
        "Holds no keys: those stay in environment variables or the ltx2 config file."
    )

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "key_profile": (
                    "STRING",
                    {
                        "default": "",
                        "tooltip": (
                            "Name of a key profile from the ltx2 config file (empty = default keys). Never an API key."
                        ),
                    },
                ),
                "base_url": ("STRING", {"default": "", "tooltip": "Provider base URL; empty = default."}),
                "hosting": (
                    list(HOSTING_CHOICES),
                    {
                        "default": "auto",
                        "tooltip": (
                            "How input media reach the provider: its upload endpoint, an inline data URI, the "
                            "*_url inputs only, or your S3-compatible bucket (s3: LTX2_S3_BUCKET, credentials "
                            "from the AWS chain, never here); auto picks what the provider supports."
                        ),
                    },
                ),
                "poll_timeout": (
                    "INT",
                    {
                        "default": 1800,
                        "min": 10,
                        "max": 86400,
                        "step": 10,
                        "tooltip": "Seconds to wait for a job before giving up (it stays resumable).",
                    },
                ),
                "use_cache": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": (
                            "Reuse an already downloaded result of an identical request instead of paying again."
                        ),
                    },
                ),
            },
        }

    def build(
        self,
        key_profile: str = "",
        base_url: str = "",
        hosting: str = "auto",
        poll_timeout: int = 1800,
        use_cache: bool = True,
        **retired: object,
    ) -> tuple[LTX2Settings]:
        # ``retired`` swallows inputs of saved workflows that no longer exist (``sync``: the LTX API's
        # synchronous v1 call is retired; every job now runs through the resumable v2 job API).
        from .errors import user_errors

        with user_errors():
            return (
                LTX2Settings(
                    key_profile=(key_profile or "").strip(),
                    base_url=(base_url or "").strip(),
                    hosting=hosting,
                    poll_timeout=int(poll_timeout),
                    use_cache=bool(use_cache),
                ),
            )
