"""The byte rewrite of a rule for non-ASCII text: one byte per character, and a widened rule
that matches those bytes wherever the Python rule matches the text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.inspect import _value
from bastion.inspect._widen import one_byte_per_char, widen


def test_one_byte_per_character() -> None:
    assert one_byte_per_char("a\xe9\u3042\U0001d11e\ud800-") == b"a????-"


@pytest.mark.parametrize(
    ("rule", "widened"),
    [
        (r"\bunion\b", "union"),
        (r"\w+\s?\d", r"[\w?]+[\s?]?[\d?]"),
        (r"[\w@.]", r"[\w?@.]"),
        (r"[^\s]", r"[^\s]"),
        (r"[^a-z]\\\.", r"[^a-z]\\\."),
        (r"[]a]\W", r"[]a]\W"),
        (r"(?:a|b)(?!c)\1", r"(?:a|b)(?!c)\1"),
    ],
)
def test_widen(rule: str, widened: str) -> None:
    assert widen(rule) == widened


@pytest.mark.parametrize(
    "rule", [r"é", r"[\b]", r"\B", r"(?<=a)b", r"(?P<x>a)", r"[a", r"[^?]", r"[^a\?]"]
)
def test_widen_refuses_what_it_does_not_reason_about(rule: str) -> None:
    with pytest.raises(ValueError):
        widen(rule)


def test_every_rule_widens_to_a_valid_pattern() -> None:
    for _, pattern, _, _ in _value.PREFILTER.rules:
        re.compile(widen(pattern.pattern).encode())


_NON_ASCII = st.sampled_from(["é", "\xa0", "\u3000", "\u0663", "\u2028", "ß", "\u017f", "\u212a"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(_NON_ASCII, st.sampled_from(["'", " or ", "1=1", "--", "<"])), max_size=20)
)
def test_bytes_keep_positions(parts: list[str]) -> None:
    text = "".join(parts)
    assert len(one_byte_per_char(text)) == len(text)
