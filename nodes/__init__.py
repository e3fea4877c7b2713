"""ComfyUI nodes. Importing this module is cheap: torch, PyAV and httpx load on first use."""

from .decode import LTX2DecodeVideo
from .generation import GENERATION_NODES
from .jobs import LTX2LoadJobResult
from .routes import register_routes
from .settings import LTX2ProviderSettings

if register_routes():  # front-end routes, only inside ComfyUI
    import threading

    from .pending import report_unfinished_once

    # At start, name the paid jobs never collected (in a thread: loading the pack stays instant).
    threading.Thread(target=report_unfinished_once, name="ltx2-pending", daemon=True).start()

NODE_CLASS_MAPPINGS: dict[str, type] = {node_id: cls for node_id, (cls, _) in GENERATION_NODES.items()}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {
    node_id: name for node_id, (_, name) in GENERATION_NODES.items()
}

NODE_CLASS_MAPPINGS.update(
    {
        "LTX2ProviderSettings": LTX2ProviderSettings,
        "LTX2DecodeVideo": LTX2DecodeVideo,
        "LTX2LoadJobResult": LTX2LoadJobResult,
    }
)
NODE_DISPLAY_NAME_MAPPINGS.update(
    {
        "LTX2ProviderSettings": "LTX-2 Provider Settings",
        "LTX2DecodeVideo": "LTX-2 Decode Video",
        "LTX2LoadJobResult": "LTX-2 Load Job Result",
    }
)

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
