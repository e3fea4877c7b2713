"""Shared machinery of every LTX-2 generation node; each mode node is a few lines of data.

A run: graph inputs -> probed media (in a thread) -> ``GenerationRequest`` -> ``runner.generate``
(validation before any upload, hosting, journal, submit, poll, download) -> outputs decoded in a
thread. The event loop is never blocked, so independent nodes run concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, ClassVar

from ..api.errors import InvalidInputError, LTX2Error
from ..api.types import GenerationRequest, MediaInput, MediaKind, Mode, ProgressEvent
from . import widgets
from .errors import LTX2InputError, LTX2NodeError, node_error, user_errors
from .fingerprint import fingerprint
from .outputs import FRAMES_OUTPUT, OUTPUT_TOOLTIPS, RETURN_NAMES, RETURN_TYPES, DecodeOptions
from .settings import SETTINGS_TYPE, LTX2Settings

log = logging.getLogger("ltx2_nodes")

CATEGORY = "LTX-2"
RESULT_SUBFOLDER = "ltx2"
PHASE_PROGRESS = {
    "validating": 2,
    "uploading": 5,
    "submitting": 10,
    "queued": 15,
    "processing": 20,
    "downloading": 90,
    "done": 100,
}


# --- shared optional inputs ----------------------------------------------------------------------


def decode_inputs() -> dict[str, Any]:
    return {
        "max_frames": (
            "INT",
            {"default": 0, "min": 0, "max": 100000, "tooltip": "Cap on decoded frames; 0 = all."},
        ),
        "frame_stride": ("INT", {"default": 1, "min": 1, "max": 100, "tooltip": "Keep every n-th frame."}),
        "max_side": (
            "INT",
            {
                "default": 0,
                "min": 0,
                "max": 8192,
                "step": 8,
                "tooltip": ("Downscale decoded frames so the longer side is at most this; 0 = full size."),
            },
        ),
    }


def hidden_inputs() -> dict[str, str]:
    # "prompt" is the text prompt widget, so the graph arrives under another name.
    return {"unique_id": "UNIQUE_ID", "workflow_prompt": "PROMPT"}


def output_dir() -> Path:
    from .comfy import output_directory

    return output_directory() / RESULT_SUBFOLDER


def progress_callback(node_id: str | None, provider_label: str) -> Any:
    """ProgressEvent -> progress bar + status line "LTX-2 · GMI Cloud · processing · 12 s"."""
    from .comfy import Progress

    progress = Progress(node_id)

    def on_progress(event: ProgressEvent) -> None:
        start = PHASE_PROGRESS.get(event.phase, progress.last_value)
        if event.fraction is not None and event.phase == "processing":
            value = 20 + 70 * max(0.0, min(1.0, event.fraction))
        elif event.fraction is not None and event.phase == "downloading":
            value = 90 + 9 * max(0.0, min(1.0, event.fraction))
        else:
            value = start
        progress.update(value)
        progress.text(f"LTX-2 · {provider_label} · {event.phase} · {int(event.elapsed)} s")

    return on_progress


def run_settings(
    settings: LTX2Settings, *, filename_prefix: str, on_progress: Any, fresh_take: bool = False
) -> Any:
    """``fresh_take``: the user asked for a new (paid) take, so no earlier result of the same request
    is reused."""
    from ..api.runner import RunSettings
    from .comfy import processing_interrupted

    return RunSettings(
        output_dir=output_dir(),
        filename_prefix=filename_prefix or "ltx2",
        profile=settings.key_profile or None,
        base_url=settings.base_url or None,
        hosting=settings.hosting,
        poll_timeout=float(settings.poll_timeout),
        use_cache=settings.use_cache and not fresh_take,
        new_take=fresh_take,
        poll_interval=settings.effective_poll_interval(),
        cancel_check=processing_interrupted,
        on_progress=on_progress,
    )


def interrupted_message(provider_label: str, job_ref: str | None) -> str:
    ref = f" (job {job_ref})" if job_ref else ""
    target = job_ref or "ID"
    return (
        f"LTX-2: stopped waiting for the {provider_label} job{ref}. The job continues on the provider and "
        f"stays in the journal: collect it later with the LTX-2 Load Job Result node (job_id {target}) or "
        f"`ltx2 jobs resume {target}`. Running this node again with the same inputs and seed also collects "
        f"this job instead of paying for a new one."
    )


def find_interrupted_job(request_hash: str, journal_id: str | None = None) -> str | None:
    """Journal id of the resumable record an interrupt left behind: the run's own record when the
    runner named it, else the newest resumable record of this request. None when nothing resumable
    exists (stopped before the submit, or a synchronous call)."""
    try:
        from ..api.journal import Journal

        journal = Journal()
        if journal_id is not None:
            record = journal.get(journal_id)
            return record.id if record is not None and record.resumable else None
        for record in journal.list(limit=20):
            if record.request_hash == request_hash and record.resumable:
                return record.id
    except Exception as exc:
        log.debug("LTX-2: journal lookup failed: %s", exc)
    return None


async def finish(
    path: Path, summary: dict[str, Any], inputs: dict[str, Any], *, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Decode the result (frames only when linked) in a thread and build the node's answer."""
    from .outputs import decode_outputs, info_json, node_result, output_linked

    with user_errors():
        options = DecodeOptions.from_inputs(inputs)
    wanted = output_linked(inputs.get("workflow_prompt"), inputs.get("unique_id"), FRAMES_OUTPUT)
    try:
        decoded = await asyncio.to_thread(decode_outputs, path, options, frames_wanted=wanted)
    except LTX2Error as exc:
        raise node_error(exc) from None
    # the preview may need a link into the output folder: file work, so off the loop too
    return await asyncio.to_thread(node_result, path, decoded, info_json(summary, decoded.facts, extra))


class LTX2GenerationNode:
    """Base of the mode nodes. Subclasses set ``MODE``, ``MEDIA`` and ``WIDGETS``."""

    MODE: ClassVar[Mode]
    # media inputs: "image" | "audio" | "video"; REQUIRED_MEDIA must be given (tensor or *_url)
    MEDIA: ClassVar[tuple[str, ...]] = ()
    REQUIRED_MEDIA: ClassVar[tuple[str, ...]] = ()
    WIDGETS: ClassVar[tuple[str, ...]] = ()
    # Added after a node was released: optional inputs at the end, so saved workflows keep working.
    APPENDED_WIDGETS: ClassVar[tuple[str, ...]] = ()
    APPENDED_MEDIA: ClassVar[tuple[str, ...]] = ()  # "last_frame"
    PROMPT_WIDGET: ClassVar[bool] = True
    PROMPT_REQUIRED: ClassVar[bool] = True
    DESCRIPTION: ClassVar[str] = ""

    CATEGORY = CATEGORY
    FUNCTION = "generate"
    OUTPUT_NODE = True
    RETURN_TYPES = RETURN_TYPES
    RETURN_NAMES = RETURN_NAMES
    OUTPUT_TOOLTIPS = OUTPUT_TOOLTIPS

    # --- inputs ------------------------------------------------------------------------------
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        mode = cls.MODE
        required: dict[str, Any] = {
            "provider": (widgets.provider_choices(mode), {"tooltip": "Provider serving this mode."}),
            "model": (
                widgets.model_choices(mode),
                {"default": widgets.AUTO, "tooltip": "auto = the provider's default model for this mode."},
            ),
            "prompt": (
                "STRING",
                {
                    "multiline": True,
                    "default": "",
                    "tooltip": (
                        "What to generate." if cls.PROMPT_REQUIRED else "Optional description of the result."
                    ),
                },
            ),
        }
        if not cls.PROMPT_WIDGET:  # a mode without a prompt (reframe)
            del required["prompt"]
        for name in cls.WIDGETS:
            required[name] = widgets.mode_widget(name, mode)
        required["seed"] = (
            "INT",
            {
                "default": 0,
                "min": 0,
                "max": 0x7FFFFFFF,
                "tooltip": (
                    "Same seed and inputs = the same cached take; a new seed is a new (paid) take. Set "
                    "'control after generate' to fixed to keep reusing a take."
                ),
            },
        )
        optional: dict[str, Any] = {}
        if "image" in cls.MEDIA:
            optional["image"] = ("IMAGE", {"tooltip": "Input image (one image, not a batch)."})
            optional["image_url"] = ("STRING", {"default": "", "tooltip": "Or an http(s) URL of the image."})
        if "audio" in cls.MEDIA:
            optional["audio"] = ("AUDIO", {"tooltip": "Input audio (first item of a batch)."})
            optional["audio_url"] = ("STRING", {"default": "", "tooltip": "Or an http(s) URL of the audio."})
        if "video" in cls.MEDIA:
            optional["video"] = (
                "VIDEO",
                {"tooltip": "Input video; an H.264/H.265 MP4 file is sent as it is."},
            )
            optional["frames"] = (
                "IMAGE",
                {"tooltip": "Or frames to encode as the input video (with frames_fps)."},
            )
            optional["frames_fps"] = ("FLOAT", {"default": 25.0, "min": 1.0, "max": 120.0, "step": 0.01})
            if "audio" not in cls.MEDIA:
                optional["frames_audio"] = ("AUDIO", {"tooltip": "Soundtrack muxed with frames."})
            optional["video_url"] = ("STRING", {"default": "", "tooltip": "Or an http(s) URL of the video."})
        optional["settings"] = (SETTINGS_TYPE, {"tooltip": "From LTX-2 Provider Settings (optional)."})
        optional["filename_prefix"] = (
            "STRING",
            {"default": "ltx2", "tooltip": "Result file name prefix (under ltx2/)."},
        )
        optional.update(decode_inputs())
        optional["force_rerun"] = (
            "BOOLEAN",
            {
                "default": False,
                "tooltip": (
                    "Run (and pay) again even when every input is unchanged, also over an earlier run "
                    "that stopped while its submit may have been accepted."
                ),
            },
        )
        for name in cls.APPENDED_WIDGETS:
            optional[name] = widgets.mode_widget(name, mode)
        if "last_frame" in cls.APPENDED_MEDIA:
            optional["last_frame"] = ("IMAGE", {"tooltip": "Optional last frame (LTX-2.3 and LTX-2.5)."})
            optional["last_frame_url"] = (
                "STRING",
                {"default": "", "tooltip": "Or an http(s) URL of the last frame."},
            )
        return {"required": required, "optional": optional, "hidden": hidden_inputs()}

    @classmethod
    def IS_CHANGED(cls, **inputs: Any) -> str | float:
        return fingerprint(inputs)

    # --- run ---------------------------------------------------------------------------------
    async def generate(self, **inputs: Any) -> dict[str, Any]:
        from ..api import runner
        from ..api.errors import Interrupted
        from .comfy import consume_local_interrupt
        from .pending import report_unfinished_once

        await asyncio.to_thread(report_unfinished_once)
        with user_errors():
            settings = inputs.get("settings") or LTX2Settings()
            if not isinstance(settings, LTX2Settings):
                raise InvalidInputError(
                    "settings", type(settings).__name__, "the output of LTX-2 Provider Settings"
                )
            provider = self.provider(inputs)
            media = await asyncio.to_thread(self.collect_media, inputs)
            req = self.build_request(provider, inputs, media)
        label = provider.display_name
        node_id = inputs.get("unique_id")
        on_progress = progress_callback(None if node_id is None else str(node_id), label)
        rs = run_settings(
            settings,
            filename_prefix=str(inputs.get("filename_prefix") or "ltx2"),
            on_progress=on_progress,
            fresh_take=bool(inputs.get("force_rerun")),
        )
        try:
            result = await runner.generate(req, rs)
        except Interrupted as exc:
            consume_local_interrupt()
            job_ref = await asyncio.to_thread(
                find_interrupted_job, req.request_hash(), getattr(exc, "journal_id", None)
            )
            if job_ref is None:  # nothing to collect later: the error says why (not sent, or billed)
                raise node_error(exc) from None
            raise LTX2NodeError(interrupted_message(label, job_ref)) from None
        except LTX2Error as exc:
            raise node_error(exc) from None
        return await finish(
            Path(result.path),
            result.info(),
            inputs,
            extra={"estimated_cost_text": None if result.cost is None else str(result.cost)},
        )

    # --- request building ----------------------------------------------------------------------
    def provider(self, inputs: dict[str, Any]) -> Any:
        from ..api.providers import get_provider

        name = str(inputs.get("provider") or "")
        provider = get_provider(name)
        if self.MODE not in provider.modes():
            raise InvalidInputError(
                "provider",
                provider.display_name,
                ", ".join(widgets.provider_choices(self.MODE)),
                reason=f"it does not offer {self.MODE.value}",
            )
        return provider

    def collect_media(self, inputs: dict[str, Any]) -> dict[str, MediaInput]:
        """Graph media -> probed inputs (CPU work: runs in a thread)."""
        from .convert import audio_to_media, frames_to_media, image_to_media, url_to_media, video_to_media

        media: dict[str, MediaInput] = {}
        if "image" in self.MEDIA:
            if inputs.get("image") is not None:
                media["image"] = image_to_media(inputs["image"], "image")
            elif str(inputs.get("image_url") or "").strip():
                media["image"] = url_to_media(inputs["image_url"], MediaKind.IMAGE, "image_url")
        if "audio" in self.MEDIA:
            if inputs.get("audio") is not None:
                media["audio"] = audio_to_media(inputs["audio"], "audio")
            elif str(inputs.get("audio_url") or "").strip():
                media["audio"] = url_to_media(inputs["audio_url"], MediaKind.AUDIO, "audio_url")
        if "video" in self.MEDIA:
            if inputs.get("video") is not None:
                media["video"] = video_to_media(inputs["video"], "video")
            elif inputs.get("frames") is not None:
                soundtrack, soundtrack_name = inputs.get("frames_audio"), "frames_audio"
                if soundtrack is None and "audio" in self.MEDIA:
                    soundtrack, soundtrack_name = inputs.get("audio"), "audio"
                media["video"] = frames_to_media(
                    inputs["frames"],
                    float(inputs.get("frames_fps") or 25.0),
                    audio=soundtrack,
                    name="frames",
                    audio_name=soundtrack_name,
                )
            elif str(inputs.get("video_url") or "").strip():
                media["video"] = url_to_media(inputs["video_url"], MediaKind.VIDEO, "video_url")
        if "last_frame" in self.APPENDED_MEDIA:
            if inputs.get("last_frame") is not None:
                media["last_frame"] = image_to_media(inputs["last_frame"], "last_frame")
            elif str(inputs.get("last_frame_url") or "").strip():
                media["last_frame"] = url_to_media(
                    inputs["last_frame_url"], MediaKind.IMAGE, "last_frame_url"
                )
        for kind in self.REQUIRED_MEDIA:
            if kind not in media:
                alternatives = {
                    "image": "an IMAGE on 'image' or an http(s) URL in 'image_url'",
                    "audio": "an AUDIO on 'audio' or an http(s) URL in 'audio_url'",
                    "video": "a VIDEO on 'video', IMAGE frames on 'frames' (with frames_fps), or an "
                    "http(s) URL in 'video_url'",
                }[kind]
                raise InvalidInputError(kind, None, alternatives, reason=f"{self.MODE.value} needs a {kind}")
        return media

    def build_request(
        self, provider: Any, inputs: dict[str, Any], media: dict[str, MediaInput]
    ) -> GenerationRequest:
        prompt = str(inputs.get("prompt") or "").strip()
        model = str(inputs.get("model") or widgets.AUTO)
        fields: dict[str, Any] = {}
        for name in (*self.WIDGETS, *self.APPENDED_WIDGETS):  # widget names are GenerationRequest field names
            fields[name] = widgets.widget_value(name, inputs.get(name))
        seed = inputs.get("seed")
        req = GenerationRequest(
            provider=provider.name,
            mode=self.MODE,
            model=None if model.lower() == widgets.AUTO else model,
            prompt=prompt,
            seed=None if seed is None else int(seed),
            **fields,
            **media,
        )
        if req.resolution:
            spec = provider.resolve_model(req)
            mapped = widgets.equivalent_resolution(req.resolution, spec.resolutions)
            if mapped != req.resolution:
                import dataclasses

                req = dataclasses.replace(req, resolution=mapped)
        return req


__all__ = ["CATEGORY", "LTX2GenerationNode", "LTX2InputError", "LTX2NodeError"]
