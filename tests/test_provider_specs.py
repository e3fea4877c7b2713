"""Every provider is declared as data, and every list the user sees is derived from those specs."""

from __future__ import annotations

import pytest
from ltx2_nodes.api.hosting import HOSTING_METHODS
from ltx2_nodes.api.providers import all_providers, get_provider, vocab
from ltx2_nodes.api.types import MEDIA_FIELDS, GenerationRequest, Mode
from ltx2_nodes.nodes import widgets

REQUEST_FIELDS = set(GenerationRequest.__dataclass_fields__)
PROVIDERS = [p.name for p in all_providers()]


@pytest.mark.parametrize("name", PROVIDERS)
def test_spec_is_consistent(name: str) -> None:
    provider = get_provider(name)
    spec = provider.SPEC
    assert set(spec.hosting_methods) <= set(HOSTING_METHODS) and spec.default_hosting in spec.hosting_methods
    assert set(spec.modes) == set(provider.modes())
    for mode, rules in spec.modes.items():
        assert rules.fields <= REQUEST_FIELDS, mode
        for field, _wire in rules.wire:
            # a wire table may be shared by modes: a media field a mode does not take is refused, never sent
            assert field in rules.fields or field in ("model", "seed", *MEDIA_FIELDS), (mode, field)
        assert set(rules.required) <= rules.fields, mode
        assert set(rules.ranges) <= rules.fields, mode
        assert set(rules.media_seconds) <= rules.fields & set(MEDIA_FIELDS), mode
    for field, words in spec.choices.items():
        assert words is vocab.FIELD_WORDS[field] or set(words) <= set(vocab.FIELD_WORDS[field]), field
    for model in spec.models:
        assert model.mode in spec.modes
        if model.default_resolution and model.resolutions:
            assert model.default_resolution in model.resolutions
        if model.default_fps and model.fps:
            assert model.default_fps in model.fps
        for rule in model.duration_rules:
            assert set(rule.durations) <= set(model.durations)
    for removed, replacement in spec.removed_models.items():
        assert removed not in {m.name for m in spec.models}
        assert replacement in {m.name for m in spec.models}


@pytest.mark.parametrize("mode", list(Mode))
def test_node_word_lists_come_from_the_specs(mode: Mode) -> None:
    for field in vocab.FIELD_WORDS:
        offered = {w for p in widgets.providers_for(mode) for w in p.choices(field, mode)}
        if offered:
            assert set(widgets.value_choices(mode, field)) == offered


def test_camera_motions_live_in_one_place() -> None:
    for provider in all_providers():
        if provider.SPEC.choices.get("camera_motion"):
            assert provider.SPEC.choices["camera_motion"] is vocab.CAMERA_MOTIONS
