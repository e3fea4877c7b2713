"""LTX-2 API Nodes: every hosted LTX-2 video mode as ComfyUI nodes.

ComfyUI loads this folder from custom_nodes/; pip installs it as ``ltx2_nodes``. Loading stays
cheap: node modules import torch, PyAV and httpx only when a node runs.
"""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

WEB_DIRECTORY = "./web/js"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
