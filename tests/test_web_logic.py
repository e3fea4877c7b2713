"""The front-end extension's pure logic, run with Node's own test runner (part of the suite)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_web_logic_under_node() -> None:
    proc = subprocess.run(
        ["node", "--test", str(ROOT / "tests" / "web")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "# fail 0" in proc.stdout


def test_extension_imports_only_its_logic_module() -> None:
    source = (ROOT / "web" / "js" / "ltx2.js").read_text()
    # ComfyUI serves WEB_DIRECTORY under /extensions/<pack>/: imports must stay inside it or point at
    # ComfyUI's own scripts.
    targets = re.findall(r"""from\s+["']([^"']+)["']""", source)
    assert targets, "the extension imports nothing"
    for target in targets:
        assert target.startswith(("./", "../../scripts/")), target
