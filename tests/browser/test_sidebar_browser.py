"""The front end in a real ComfyUI and a real browser (Debian's chromium driven by Playwright).

Runs when ``COMFYUI_DIR`` points at a ComfyUI checkout (``COMFYUI_PYTHON``: the interpreter that has
its requirements, default this one; ``COMFYUI_FRONTEND_ROOT``: another frontend build to serve) and
Playwright plus chromium are installed; skipped otherwise.
ComfyUI runs with a base directory of its own under the test's tmp folder, holding this pack in
``custom_nodes``, and every provider pointed at the emulator. ``LTX2_SCREENSHOT_DIR`` keeps
screenshots of the sidebar and of a node with its badge in both renderers.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ltx2_nodes.api import runner
from ltx2_nodes.api.client import RetryPolicy
from ltx2_nodes.api.emulator import RunningEmulator
from ltx2_nodes.api.errors import Interrupted
from ltx2_nodes.api.journal import Journal, RecordState
from ltx2_nodes.api.types import GenerationRequest, Mode

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LTX2_CHROMIUM", "/usr/bin/chromium")
COMFYUI_DIR = os.environ.get("COMFYUI_DIR", "")
FRONTEND_ROOT = os.environ.get("COMFYUI_FRONTEND_ROOT", "")  # another frontend build to test against
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = os.environ.get("LTX2_SCREENSHOT_DIR", "")  # read now: the fixtures clear LTX2_* variables
KEY = "gmi-browser-form-key-5566778899"

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
pytestmark = [
    pytest.mark.skipif(
        not COMFYUI_DIR or not (Path(COMFYUI_DIR) / "main.py").is_file(),
        reason="COMFYUI_DIR does not point at a ComfyUI checkout",
    ),
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"no chromium at {CHROMIUM}"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _paid_uncollected_job(data_dir: Path, seed: int) -> str:
    """A job the emulator accepted (and would bill) whose run stopped before it was collected."""
    req = GenerationRequest(
        provider="ltx",
        mode=Mode.TEXT_TO_VIDEO,
        model="ltx-2-3-fast",
        prompt="a paper lantern over a river",
        duration=6,
        resolution="1920x1080",
        fps=25,
        seed=seed,
    )
    accepted = {"yes": False}

    def on_progress(event) -> None:
        if event.phase == "queued" and "accepted" in event.message:
            accepted["yes"] = True

    settings = runner.RunSettings(
        output_dir=data_dir / "cli-out",
        journal=Journal(data_dir / "journal.sqlite3"),
        poll_interval=0.05,
        retry=RetryPolicy(base_delay=0.05, max_delay=0.5),
        cancel_check=lambda: accepted["yes"],
        on_progress=on_progress,
    )
    with pytest.raises(Interrupted):
        asyncio.run(runner.generate(req, settings))
    record = Journal(data_dir / "journal.sqlite3").list(limit=1)[0]
    assert record.state is RecordState.INTERRUPTED
    return record.id


@pytest.fixture
def comfyui(emu_env: RunningEmulator, tmp_path: Path) -> Iterator[dict]:
    emu_env.emulator.config.max_render_side = 96
    base = tmp_path / "comfy"
    (base / "custom_nodes").mkdir(parents=True)
    (base / "custom_nodes" / "ltx2-nodes").symlink_to(ROOT, target_is_directory=True)
    settings = base / "user" / "default" / "comfy.settings.json"
    settings.parent.mkdir(parents=True)
    # A first start opens the template browser over everything: this user has seen it.
    settings.write_text(json.dumps({"Comfy.TutorialCompleted": True}))
    data = tmp_path / "data"
    data.mkdir()
    job_id = _paid_uncollected_job(data, 11)
    _paid_uncollected_job(data, 13)  # left uncollected: the screenshot shows its Collect button
    (tmp_path / "config.json").write_text(json.dumps({"budget": {"daily_usd": 5, "monthly_credits": 400}}))
    env = {k: v for k, v in os.environ.items() if not (k.endswith("_API_KEY") or k.startswith("LTX2_"))}
    env.update(emu_env.env())
    env.pop("GMI_API_KEY")  # set through the sidebar's form below
    env.update(
        LTX2_DATA_DIR=str(data),
        LTX2_CONFIG=str(tmp_path / "config.json"),
        LTX2_POLL_INTERVAL="0.1",
    )
    port = _free_port()
    log = (tmp_path / "comfyui.log").open("w")
    proc = subprocess.Popen(
        [
            os.environ.get("COMFYUI_PYTHON", sys.executable),
            "main.py",
            "--cpu",
            "--listen",
            "127.0.0.1",
            "--port",
            str(port),
            "--base-directory",
            str(base),
            "--disable-auto-launch",
            *(["--front-end-root", FRONTEND_ROOT] if FRONTEND_ROOT else []),
        ],
        cwd=COMFYUI_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"ComfyUI exited: {(tmp_path / 'comfyui.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/object_info/LTX2TextToVideo", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "comfyui.log").read_text()[-3000:]
            time.sleep(0.5)
        yield {"url": url, "job_id": job_id, "base": base, "config": tmp_path / "config.json"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


APP = "window.comfyAPI.app.app"
TAB_BUTTON = 'button[aria-label^="LTX-2: jobs"]'  # the sidebar button carries the tab's tooltip


def _shot(page, name: str, locator=None) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        (locator or page).screenshot(path=str(Path(SCREENSHOTS) / name))


def _today(page, provider: str) -> str:
    return page.locator(f'[data-ltx2-spend="{provider}"] [data-ltx2="today"]').inner_text()


def _queue_text_to_video(url: str, seed: int) -> str:
    prompt = json.loads((ROOT / "example_workflows" / "api" / "ltx2_text_to_video.json").read_text())
    node = prompt["2"]
    node["inputs"].pop("settings")
    node["inputs"]["seed"] = seed
    resp = httpx.post(f"{url}/prompt", json={"prompt": {"2": node}}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["prompt_id"]


def test_sidebar_collect_spend_keys_and_badges_in_a_real_comfyui(comfyui: dict, tmp_path: Path) -> None:
    url = comfyui["url"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1250})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.wait_for_function(
            "window.comfyAPI?.app?.app?.graph && window.comfyAPI.app.app.extensionManager", timeout=120_000
        )
        if page.locator(".p-dialog-mask").count():  # a dialog a first visit may open
            page.keyboard.press("Escape")
            page.locator(".p-dialog-mask").first.wait_for(state="detached", timeout=10_000)

        # --- the sidebar: a paid job that was never collected, and Collect -------------------------
        page.locator(TAB_BUTTON).first.click()
        gutters = page.locator(".p-splitter-gutter")
        gutter = gutters.first.bounding_box() if gutters.count() else None
        if gutter:  # a wider sidebar for the screenshot
            page.mouse.move(gutter["x"] + gutter["width"] / 2, gutter["y"] + 300)
            page.mouse.down()
            page.mouse.move(gutter["x"] + 260, gutter["y"] + 300, steps=5)
            page.mouse.up()
        job = page.locator(f'[data-ltx2-job="{comfyui["job_id"]}"]')
        job.wait_for(timeout=30_000)
        assert job.get_attribute("data-ltx2-group") == "uncollected"
        assert "Paid but never collected" in job.inner_text()
        spent_before = _today(page, "ltx")
        job.locator('[data-ltx2="collect"]').click()
        page.wait_for_selector(
            f'[data-ltx2-job="{comfyui["job_id"]}"][data-ltx2-group="done"]', timeout=90_000
        )
        assert job.locator("video").count() == 1
        assert _today(page, "ltx") == spent_before  # collecting buys nothing

        # --- a new paid job: the spend follows -------------------------------------------------------
        _queue_text_to_video(url, seed=12)
        page.wait_for_function(
            f"""() => {{
                const cell = document.querySelector('[data-ltx2-spend="ltx"] [data-ltx2="today"]');
                return cell && cell.textContent !== {json.dumps(spent_before)};
            }}""",
            timeout=120_000,
        )
        assert float(_today(page, "ltx").lstrip("$")) > float(spent_before.lstrip("$"))

        # --- a key through the masked form ----------------------------------------------------------
        key_input = page.locator('[data-ltx2="key-input"]')
        assert key_input.get_attribute("type") == "password"
        assert key_input.get_attribute("autocomplete") == "off"
        page.locator('[data-ltx2="key-provider"]').select_option("gmi")
        key_input.fill(KEY)
        page.locator('[data-ltx2="key-save"]').click()
        page.wait_for_function(
            """() => document.querySelector('[data-ltx2-key="gmi"] [data-ltx2="source"]')
                ?.textContent === 'config file'""",
            timeout=30_000,
        )
        assert json.loads(comfyui["config"].read_text())["keys"]["gmi"] == KEY
        assert KEY not in page.content()
        assert page.locator('[data-ltx2="key-input"]').input_value() == ""
        page.evaluate(f"() => {APP}.extensionManager.toast.removeAll?.()")
        _shot(page, "sidebar.png", page.locator(".side-bar-panel"))
        page.locator(TAB_BUTTON).first.click()  # close the sidebar

        # --- the cost badge, classic canvas then Vue nodes ------------------------------------------
        node_id = page.evaluate(
            f"""() => {{
                {APP}.graph.clear();
                const node = window.LiteGraph.createNode("LTX2TextToVideo");
                node.pos = [120, 120];
                {APP}.graph.add(node);
                {APP}.canvas.setDirty(true, true);
                return node.id;
            }}"""
        )
        page.wait_for_function(
            f"() => {APP}.graph.getNodeById({node_id}).__ltx2Badge?.startsWith('≈')", timeout=30_000
        )
        texts = page.evaluate(
            f"""() => {APP}.graph.getNodeById({node_id}).badges
                .map((b) => (typeof b === "function" ? b() : b)).map((b) => b.text)"""
        )
        badge = page.evaluate(f"() => {APP}.graph.getNodeById({node_id}).__ltx2Badge")
        assert badge in texts  # what the canvas draws
        box = page.locator("#graph-canvas").bounding_box()
        if SCREENSHOTS:
            clip = {"x": box["x"] + 90, "y": box["y"] + 50, "width": 460, "height": 640}
            page.screenshot(path=str(Path(SCREENSHOTS) / "badge-canvas.png"), clip=clip)

        page.evaluate(f"() => {APP}.extensionManager.setting.set('Comfy.VueNodes.Enabled', true)")
        vue = page.locator(f'[data-node-id="{node_id}"]')
        vue.wait_for(timeout=30_000)
        page.wait_for_function(
            f"""() => document.querySelector('[data-node-id="{node_id}"]')?.textContent
                .includes({json.dumps(badge)})""",
            timeout=30_000,
        )
        _shot(page, "badge-vue.png", vue)

        # The setting hides it in both.
        page.evaluate(f"() => {APP}.extensionManager.setting.set('LTX2.ShowCost', false)")
        page.wait_for_function(
            f"""() => !document.querySelector('[data-node-id="{node_id}"]').textContent
                .includes({json.dumps(badge)})""",
            timeout=30_000,
        )
        hidden = page.evaluate(
            f"""() => {APP}.graph.getNodeById({node_id}).badges
                .map((b) => (typeof b === "function" ? b() : b)).map((b) => b.text)"""
        )
        assert badge not in hidden
        assert not [e for e in errors if "ltx2" in e.lower()], errors
        browser.close()
