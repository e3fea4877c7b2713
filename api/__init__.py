"""ComfyUI-free core of LTX-2 API Nodes: providers, HTTP client, media, hosting, journal, emulator.

Nothing in this package imports torch or ComfyUI.
"""
