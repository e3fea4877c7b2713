"""Caps on JSON answers as properties: any nesting depth ends in the value or a clean BadJson
(never a RecursionError), and the depth check agrees with the real depth."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ltx2_nodes.api.net.jsonbody import MAX_JSON_DEPTH, BadJson, decode_body, json_depth_ok, parse_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=20,
)


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


@given(value=json_values, limit=st.integers(1, 8))
def test_the_depth_check_agrees_with_the_real_depth(value: object, limit: int) -> None:
    assert json_depth_ok(value, limit) is (depth(value) <= limit)


@given(n=st.integers(0, 300_000), opener=st.sampled_from(["[", '{"a":']))
def test_any_nesting_parses_or_fails_cleanly(n: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = opener * n + ("1" if opener != "[" else "") + closer * n
    if n <= MAX_JSON_DEPTH:
        assert depth(parse_json(text)) == n
    else:
        with pytest.raises(BadJson, match="nested deeper"):
            parse_json(text)
        assert decode_body(text) == text  # an error body that is too deep is kept as text


@given(text=st.text(max_size=40))
def test_garbage_is_bad_json_or_a_value(text: str) -> None:
    try:
        value = parse_json(text)
    except BadJson:
        return
    assert value is None or json.dumps(value) is not None
