"""LTX-2 Load Job Result: collect a journalled job (never resubmits, so nothing is paid twice)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..api.errors import Interrupted, InvalidInputError, LTX2Error
from .base import (
    CATEGORY,
    decode_inputs,
    finish,
    hidden_inputs,
    interrupted_message,
    progress_callback,
    run_settings,
)
from .errors import LTX2NodeError, node_error, user_errors
from .fingerprint import fingerprint
from .outputs import OUTPUT_TOOLTIPS, RETURN_NAMES, RETURN_TYPES
from .settings import SETTINGS_TYPE, LTX2Settings


class LTX2LoadJobResult:
    """Finish polling and download a job by journal id or provider request id."""

    CATEGORY = CATEGORY
    FUNCTION = "load"
    OUTPUT_NODE = True
    RETURN_TYPES = RETURN_TYPES
    RETURN_NAMES = RETURN_NAMES
    OUTPUT_TOOLTIPS = OUTPUT_TOOLTIPS
    DESCRIPTION = (
        "Collect the result of an earlier paid job (interrupted, timed out or from the command line) "
        "by its journal id or the provider's request id. Never submits a new job."
    )

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "job_id": (
                    "STRING",
                    {
                        "default": "",
                        "tooltip": (
                            "Journal id (or a unique prefix) or the provider's request id; see `ltx2 jobs list`."
                        ),
                    },
                )
            },
            "optional": {
                "settings": (SETTINGS_TYPE, {}),
                "filename_prefix": ("STRING", {"default": "ltx2"}),
                **decode_inputs(),
            },
            "hidden": hidden_inputs(),
        }

    @classmethod
    def IS_CHANGED(cls, **inputs: Any) -> str | float:
        return fingerprint(inputs)

    async def load(self, job_id: str = "", **inputs: Any) -> dict[str, Any]:
        from ..api import runner
        from .comfy import consume_local_interrupt

        ident = (job_id or "").strip()
        with user_errors():
            if not ident:
                raise InvalidInputError(
                    "job_id", job_id, "a journal id or provider request id from `ltx2 jobs list`"
                )
            settings = inputs.get("settings") or LTX2Settings()
        node_id = inputs.get("unique_id")
        on_progress = progress_callback(None if node_id is None else str(node_id), "job " + ident)
        rs = run_settings(
            settings, filename_prefix=str(inputs.get("filename_prefix") or "ltx2"), on_progress=on_progress
        )
        try:
            result = await runner.resume(ident, rs)
        except Interrupted:
            consume_local_interrupt()
            raise LTX2NodeError(interrupted_message("provider", ident)) from None
        except LTX2Error as exc:
            raise node_error(exc) from None
        return await finish(Path(result.path), result.info(), inputs)
