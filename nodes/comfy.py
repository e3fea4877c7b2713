"""Guarded access to ComfyUI: progress bar, status text, interrupts, video type, folders.

Every function works without ComfyUI (tests, the command line): progress is a no-op, the
interrupt flag is local to this module and folders fall back to ``$LTX2_OUTPUT_DIR`` / ``./output``.
ComfyUI modules are imported on first use only, so loading the pack stays cheap.
"""

from __future__ import annotations

import importlib
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("ltx2_nodes")

_MISSING = object()
_modules: dict[str, Any] = {}
_local_interrupt = threading.Event()  # used when ComfyUI is absent


def _module(name: str) -> Any | None:
    """ComfyUI module ``name`` or None when it cannot be imported (cached either way)."""
    found = _modules.get(name, _MISSING)
    if found is _MISSING:
        # ComfyUI is recognised by its folder_paths module; without it no other name is tried,
        # so an unrelated package called "server" or "comfy" is never picked up.
        if name != "folder_paths" and _module("folder_paths") is None:
            _modules[name] = None
            return None
        try:
            found = importlib.import_module(name)
        except Exception:  # not inside ComfyUI, or an older release without this module
            found = None
        _modules[name] = found
    return found


def available() -> bool:
    """True when running inside ComfyUI."""
    return _module("folder_paths") is not None


# --- folders ---------------------------------------------------------------------------------


def output_directory() -> Path:
    """ComfyUI's output folder; outside ComfyUI ``$LTX2_OUTPUT_DIR`` or ``./output``."""
    folder_paths = _module("folder_paths")
    if folder_paths is not None:
        return Path(folder_paths.get_output_directory())
    return Path(os.environ.get("LTX2_OUTPUT_DIR") or "output").absolute()


def temp_directory() -> Path:
    folder_paths = _module("folder_paths")
    if folder_paths is not None:
        return Path(folder_paths.get_temp_directory())
    return Path(tempfile.gettempdir()) / "ltx2-nodes"


# --- interrupts ------------------------------------------------------------------------------


def processing_interrupted() -> bool:
    """True once the user pressed Cancel in ComfyUI (or ``interrupt_current_processing`` ran)."""
    mm = _module("comfy.model_management")
    if mm is not None and hasattr(mm, "processing_interrupted"):
        return bool(mm.processing_interrupted())
    return _local_interrupt.is_set()


def interrupt_current_processing(value: bool = True) -> None:
    """Ask running nodes to stop waiting (ComfyUI's own flag when present)."""
    mm = _module("comfy.model_management")
    if mm is not None and hasattr(mm, "interrupt_current_processing"):
        mm.interrupt_current_processing(value)
        return
    if value:
        _local_interrupt.set()
    else:
        _local_interrupt.clear()


def consume_local_interrupt() -> None:
    """Outside ComfyUI nobody resets the flag after an interrupt was handled: do it here.
    Inside ComfyUI the executor resets its own flag."""
    if _module("comfy.model_management") is None:
        _local_interrupt.clear()


# --- progress --------------------------------------------------------------------------------


class Progress:
    """A 0..100 progress bar plus a status line on the node; both silent outside ComfyUI."""

    def __init__(self, node_id: str | None, total: int = 100) -> None:
        self.node_id = node_id
        self.total = total
        self.last_text = ""
        self.last_value = 0
        self._bar: Any = None
        utils = _module("comfy.utils")
        if utils is not None and hasattr(utils, "ProgressBar"):
            try:
                self._bar = utils.ProgressBar(total, node_id=node_id)
            except TypeError:  # releases before the node_id parameter
                self._bar = utils.ProgressBar(total)
            except Exception as exc:
                log.debug("LTX-2: no progress bar: %s", exc)

    def update(self, value: float) -> None:
        value = int(max(0, min(self.total, round(value))))
        if value < self.last_value:  # the bar never goes backwards
            return
        self.last_value = value
        if self._bar is not None:
            try:
                self._bar.update_absolute(value, self.total)
            except Exception as exc:
                log.debug("LTX-2: progress update failed: %s", exc)

    def text(self, text: str) -> None:
        self.last_text = text
        send_progress_text(text, self.node_id)


def send_progress_text(text: str, node_id: str | None) -> None:
    if node_id is None:
        return
    server = _module("server")
    instance = getattr(getattr(server, "PromptServer", None), "instance", None)
    if instance is None or not hasattr(instance, "send_progress_text"):
        return
    try:
        instance.send_progress_text(text, node_id)
    except Exception as exc:
        log.debug("LTX-2: progress text failed: %s", exc)


# --- video type ------------------------------------------------------------------------------


def video_from_file_class() -> type | None:
    """ComfyUI's ``VideoFromFile`` (any release that has it) or None."""
    for name in ("comfy_api.latest._input_impl", "comfy_api.input_impl"):
        module = _module(name)
        cls = getattr(module, "VideoFromFile", None)
        if cls is not None:
            return cls
    return None


def video_components_class() -> type | None:
    for name in ("comfy_api.latest._util", "comfy_api.util"):
        module = _module(name)
        cls = getattr(module, "VideoComponents", None)
        if cls is not None:
            return cls
    return None
