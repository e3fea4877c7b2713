"""The UI-format example workflows stay in step with the API-format copies and the nodes."""

from __future__ import annotations

import json

import pytest
import ui_workflows as uw

MODE_NODES = {
    "text_to_video": "LTX2TextToVideo",
    "image_to_video": "LTX2ImageToVideo",
    "audio_to_video": "LTX2AudioToVideo",
    "lipsync": "LTX2Lipsync",
    "retake": "LTX2Retake",
    "extend": "LTX2Extend",
    "control": "LTX2Control",
    "first_last_frame": "LTX2ImageToVideo",
    "reframe": "LTX2Reframe",
}


def test_one_ui_workflow_per_mode_each_current() -> None:
    expected = uw.expected_ui()
    assert sorted(expected) == sorted(f"ltx2_{mode}.json" for mode in MODE_NODES)
    for name, ui in expected.items():
        path = uw.UI_DIR / name
        assert path.is_file(), f"missing {path}: run python tests/ui_workflows.py --write"
        assert json.loads(path.read_text()) == ui, (
            f"{name} is stale: run python tests/ui_workflows.py --write"
        )


@pytest.mark.parametrize("mode", sorted(MODE_NODES))
def test_ui_workflow_queues_the_same_prompt_as_the_api_copy(mode: str) -> None:
    ui = json.loads((uw.UI_DIR / f"ltx2_{mode}.json").read_text())
    api = json.loads((uw.API_DIR / f"ltx2_{mode}.json").read_text())
    queued = uw.ui_to_api(ui)
    assert set(queued) == set(api)
    for node_id, node in api.items():
        assert queued[node_id]["class_type"] == node["class_type"]
        for name, value in node["inputs"].items():
            assert queued[node_id]["inputs"][name] == value, (node_id, name)
        # Widgets the API copy leaves out hold the node's defaults.
        defaults = dict(uw.node_shape(node["class_type"])["widgets"])
        for name, value in queued[node_id]["inputs"].items():
            if name not in node["inputs"] and not isinstance(value, list):
                assert value == defaults[name], (node_id, name)
    assert any(n["type"] == MODE_NODES[mode] for n in ui["nodes"])


@pytest.mark.parametrize("mode", sorted(MODE_NODES))
def test_links_join_matching_slots(mode: str) -> None:
    ui = json.loads((uw.UI_DIR / f"ltx2_{mode}.json").read_text())
    nodes = {n["id"]: n for n in ui["nodes"]}
    for link_id, src, src_slot, dst, dst_slot, kind in ui["links"]:
        assert nodes[src]["outputs"][src_slot]["type"] == kind
        assert link_id in nodes[src]["outputs"][src_slot]["links"]
        assert (
            nodes[dst]["inputs"][dst_slot]["type"] == kind
            and nodes[dst]["inputs"][dst_slot]["link"] == link_id
        )
    assert ui["last_link_id"] == len(ui["links"]) and ui["last_node_id"] == max(nodes)
    # The seed's "control after generate" starts fixed: queuing again must not buy a new take.
    pack = next(n for n in ui["nodes"] if n["type"] == MODE_NODES[mode])
    names = [name for name, _ in uw.node_shape(pack["type"])["widgets"]]
    assert pack["widgets_values"][names.index("seed") + 1] == "fixed"
