"""Loopback emulator of the three LTX-2 providers (GMI Cloud, API in One, LTX API) with real MP4s."""

from .core import Emulator, EmulatorConfig, Fault, RunningEmulator

__all__ = ["Emulator", "EmulatorConfig", "Fault", "RunningEmulator"]
