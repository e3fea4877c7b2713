"""The UI-format example workflows (what ComfyUI's template browser opens), built from the
API-format copies the tests run and from the nodes' own INPUT_TYPES, so the two never drift.

    python tests/ui_workflows.py --write    regenerate example_workflows/*.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
API_DIR = ROOT / "example_workflows" / "api"
UI_DIR = ROOT / "example_workflows"

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN"}

# Core ComfyUI nodes used by the examples: (widget names with the values ComfyUI adds after them,
# socket inputs, outputs). Mirrors comfy's nodes.py / comfy_extras (LoadImage, LoadVideo, LoadAudio,
# SaveVideo, PreviewImage).
CORE_NODES: dict[str, dict[str, Any]] = {
    "LoadImage": {
        "widgets": ["image", "upload:image"],
        "inputs": [],
        "outputs": [("IMAGE", "IMAGE"), ("MASK", "MASK")],
    },
    "LoadVideo": {"widgets": ["file", "upload:image"], "inputs": [], "outputs": [("VIDEO", "VIDEO")]},
    "LoadAudio": {
        "widgets": ["audio", "upload:null", "upload:null"],
        "inputs": [],
        "outputs": [("AUDIO", "AUDIO")],
    },
    "SaveVideo": {
        "widgets": ["filename_prefix", "format", "codec"],
        "inputs": [("video", "VIDEO")],
        "outputs": [],
    },
    "PreviewImage": {"widgets": [], "inputs": [("images", "IMAGE")], "outputs": []},
}
SEED_CONTROL = "fixed"  # new LTX-2 nodes start fixed: a new seed is a new paid take


def _pack_nodes() -> dict[str, type]:
    from ltx2_nodes.nodes import NODE_CLASS_MAPPINGS

    return NODE_CLASS_MAPPINGS


def node_shape(class_type: str) -> dict[str, Any]:
    """widgets: [(name, default)], inputs: [(name, type)], outputs: [(name, type)] for one node type."""
    if class_type in CORE_NODES:
        core = CORE_NODES[class_type]
        return {
            "widgets": [(w, None) for w in core["widgets"]],
            "inputs": core["inputs"],
            "outputs": core["outputs"],
        }
    cls = _pack_nodes()[class_type]
    spec = cls.INPUT_TYPES()
    widgets: list[tuple[str, Any]] = []
    inputs: list[tuple[str, str]] = []
    for section in ("required", "optional"):
        for name, (kind, *rest) in spec.get(section, {}).items():
            options = rest[0] if rest else {}
            if isinstance(kind, (list, tuple)):
                widgets.append((name, options.get("default", kind[0] if kind else None)))
            elif kind in WIDGET_TYPES:
                widgets.append((name, options.get("default")))
                if name == "seed":  # ComfyUI adds its "control after generate" widget after a seed
                    widgets.append(("upload:" + SEED_CONTROL, None))
            else:
                inputs.append((name, kind))
    names = getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES
    return {"widgets": widgets, "inputs": inputs, "outputs": list(zip(names, cls.RETURN_TYPES, strict=True))}


def _depths(api: dict[str, Any]) -> dict[str, int]:
    depth: dict[str, int] = {}

    def visit(node_id: str) -> int:
        if node_id not in depth:
            links = [v[0] for v in api[node_id]["inputs"].values() if isinstance(v, list)]
            depth[node_id] = 1 + max((visit(str(src)) for src in links), default=-1)
        return depth[node_id]

    for node_id in api:
        visit(node_id)
    return depth


def build_ui(api: dict[str, Any], title: str) -> dict[str, Any]:
    """UI-format workflow (LiteGraph, version 0.4) equivalent to an API-format one."""
    depth = _depths(api)
    column_rows: dict[int, int] = {}
    links: list[list[Any]] = []
    nodes: list[dict[str, Any]] = []
    out_links: dict[tuple[int, int], list[int]] = {}
    for node_id, node in sorted(api.items(), key=lambda kv: int(kv[0])):
        for name, value in node["inputs"].items():
            if isinstance(value, list):
                link_id = len(links) + 1
                src, slot = int(value[0]), int(value[1])
                shape = node_shape(node["class_type"])
                target_slot = [n for n, _ in shape["inputs"]].index(name)
                link_type = node_shape(api[str(src)]["class_type"])["outputs"][slot][1]
                links.append([link_id, src, slot, int(node_id), target_slot, link_type])
                out_links.setdefault((src, slot), []).append(link_id)
    order = sorted(api, key=lambda n: (depth[n], int(n)))
    for position, node_id in enumerate(order):
        node = api[node_id]
        shape = node_shape(node["class_type"])
        col = depth[node_id]
        row = column_rows.get(col, 0)
        column_rows[col] = row + 1
        values: list[Any] = []
        for name, default in shape["widgets"]:
            if name.startswith(
                "upload:"
            ):  # a value ComfyUI keeps after a widget (upload button, seed control)
                fixed = name.split(":", 1)[1]
                values.append(None if fixed == "null" else fixed)
            else:
                values.append(node["inputs"].get(name, default))
        link_of = {name: value for name, value in node["inputs"].items() if isinstance(value, list)}
        inputs = []
        for name, kind in shape["inputs"]:
            link = None
            if name in link_of:
                link = next(
                    lk[0]
                    for lk in links
                    if lk[3] == int(node_id) and lk[4] == [n for n, _ in shape["inputs"]].index(name)
                )
            inputs.append({"name": name, "type": kind, "link": link})
        outputs = [
            {
                "name": name,
                "type": kind,
                "links": out_links.get((int(node_id), slot)) or None,
                "slot_index": slot,
            }
            for slot, (name, kind) in enumerate(shape["outputs"])
        ]
        is_pack = node["class_type"] not in CORE_NODES
        nodes.append(
            {
                "id": int(node_id),
                "type": node["class_type"],
                "pos": [40 + 460 * col, 60 + 420 * row],
                "size": [400 if is_pack else 320, 360 if is_pack else 280],
                "flags": {},
                "order": position,
                "mode": 0,
                "inputs": inputs,
                "outputs": outputs,
                "properties": {
                    "Node name for S&R": node["class_type"],
                    **({"cnr_id": "ltx2-nodes"} if is_pack else {}),
                },
                "widgets_values": values,
            }
        )
    return {
        "last_node_id": max(int(n) for n in api),
        "last_link_id": len(links),
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"info": {"title": title}},
        "version": 0.4,
    }


def ui_to_api(ui: dict[str, Any]) -> dict[str, Any]:
    """The API-format prompt ComfyUI would queue for a UI workflow (widgets by position, links)."""
    link_by_id = {lk[0]: lk for lk in ui["links"]}
    api: dict[str, Any] = {}
    for node in ui["nodes"]:
        shape = node_shape(node["type"])
        names = [n for n, _ in shape["widgets"]]
        values = node["widgets_values"]
        assert len(values) == len(names), (
            f"{node['type']}: {len(values)} widget values for {len(names)} widgets"
        )
        inputs = {
            name: value for name, value in zip(names, values, strict=True) if not name.startswith("upload:")
        }
        for slot in node["inputs"]:
            if slot["link"] is not None:
                lk = link_by_id[slot["link"]]
                inputs[slot["name"]] = [str(lk[1]), lk[2]]
        api[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return api


TITLES = {"first_last_frame": "first and last frame"}


def titles() -> Iterator[tuple[Path, str]]:
    for path in sorted(API_DIR.glob("*.json")):
        mode = path.stem.removeprefix("ltx2_")
        yield path, f"LTX-2 {TITLES.get(mode, mode.replace('_', ' '))}"


def expected_ui() -> dict[str, dict[str, Any]]:
    return {path.name: build_ui(json.loads(path.read_text()), title) for path, title in titles()}


def main(argv: list[str]) -> int:
    if argv[1:] != ["--write"]:
        print(__doc__)
        return 2
    for name, ui in expected_ui().items():
        (UI_DIR / name).write_text(json.dumps(ui, indent=2) + "\n")
        print("wrote", UI_DIR / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
