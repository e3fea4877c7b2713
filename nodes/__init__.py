"""ComfyUI nodes. Importing this module is cheap: torch, PyAV and httpx load on first use."""

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}
