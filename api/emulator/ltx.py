"""Emulator protocol module (placeholder until implemented)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application, emu, prefix: str) -> None:
    return None
