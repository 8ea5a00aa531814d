"""Strict JSON and exact member text for Alipay bodies."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.platforms._alipay_json import raw_members, strict_loads


def test_members_keep_their_exact_text() -> None:
    text = ' {"a" :\n {"sign":"x", "b":"\\/"} , "sign":"s", "n": [1, 2 ]}\n'
    members = raw_members(text)
    assert members["a"] == ('{"sign":"x", "b":"\\/"}', {"sign": "x", "b": "/"})
    assert members["sign"] == ('"s"', "s")
    assert members["n"] == ("[1, 2 ]", [1, 2])
    assert raw_members("{}") == {}
    assert raw_members(" { } ") == {}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "{",
        "{}}",
        '{"a":1,}',
        '{"a" 1}',
        '{"a":1 "b":2}',
        "{a:1}",
        '{"a":1,"a":2}',
        '{"a":{"b":1,"b":2}}',
        '{"a":NaN}',
        '{"a":-Infinity}',
        '{"a":1} x',
        '{"a":' + "[" * 3000 + "]" * 3000 + "}",
    ],
)
def test_non_strict_json_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        raw_members(text)
    with pytest.raises(ValueError):
        strict_loads(text if text.startswith("{") else text + "{")


def test_strict_loads_accepts_standard_json() -> None:
    assert strict_loads(' {"a": [1, "x", null, true]} ') == {"a": [1, "x", None, True]}
    assert strict_loads('"s"') == "s"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    """ASVS V2.2.1: any input gives a typed rejection, never another exception."""
    for parse in (raw_members, strict_loads):
        with contextlib.suppress(ValueError):
            parse(text)


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=5), _VALUES, max_size=4), st.booleans())
def test_members_agree_with_the_parser(obj: dict[str, Any], indent: bool) -> None:
    text = json.dumps(obj, indent=2 if indent else None)
    members = raw_members(text)
    assert {k: v for k, (_, v) in members.items()} == obj
    assert all(json.loads(raw) == value for raw, value in members.values())
