"""``inspect_value``'s shortcuts agree with running every detector in full."""

from __future__ import annotations

import re
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.inspect import _value, inspect_value
from bastion.inspect._canonical import canonicalise

_DIGITS = frozenset(map(ord, "0123456789"))


def _class_takes_a_digit(items: list[tuple[Any, Any]]) -> bool:
    negated = any(op is sre.NEGATE for op, _ in items)
    taken = set()
    for op, arg in items:
        if op is sre.LITERAL:
            taken.add(arg)
        elif op is sre.RANGE:
            taken.update(range(arg[0], arg[1] + 1))
        elif op is sre.CATEGORY:
            if arg in (
                sre.CATEGORY_DIGIT,
                sre.CATEGORY_WORD,
                sre.CATEGORY_UNI_DIGIT,
                sre.CATEGORY_UNI_WORD,
                sre.CATEGORY_NOT_SPACE,
                sre.CATEGORY_UNI_NOT_SPACE,
            ):
                taken |= _DIGITS
            elif arg not in (
                sre.CATEGORY_SPACE,
                sre.CATEGORY_UNI_SPACE,
                sre.CATEGORY_NOT_DIGIT,
                sre.CATEGORY_UNI_NOT_DIGIT,
                sre.CATEGORY_NOT_WORD,
                sre.CATEGORY_UNI_NOT_WORD,
            ):
                return True  # not reasoned about: assume it can
    return bool(_DIGITS - taken) if negated else bool(_DIGITS & taken)  # fmt: skip


def _can_match_digits_only(items: Any) -> bool:
    """Whether a parsed pattern might match some string of ASCII digits (the empty one too).
    Over-approximates: anchors and look-arounds are taken as satisfiable."""
    for op, arg in items:
        if op is sre.LITERAL:
            ok = arg in _DIGITS
        elif op is sre.NOT_LITERAL or op is sre.ANY:
            ok = True
        elif op is sre.IN:
            ok = _class_takes_a_digit(arg)
        elif op is sre.BRANCH:
            ok = any(_can_match_digits_only(branch) for branch in arg[1])
        elif op is sre.SUBPATTERN:
            ok = _can_match_digits_only(arg[-1])
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            ok = arg[0] == 0 or _can_match_digits_only(arg[2])
        elif op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT, sre.GROUPREF):
            ok = True
        else:
            raise AssertionError(f"not reasoned about: {op}")
        if not ok:
            return False
    return True


def test_the_reasoning_itself() -> None:
    assert _can_match_digits_only(_parser.parse(r"\d+|x"))
    assert _can_match_digits_only(_parser.parse(r"a?[^a-z]{2}\b"))
    assert not _can_match_digits_only(_parser.parse(r"\b0x[0-9a-f]{6,}"))
    assert not _can_match_digits_only(_parser.parse(r"[\s\"]\d|\d[ (]"))


def test_no_rule_matches_digits_alone() -> None:
    """The grounds for returning a number clean without scoring it."""
    able = [
        pattern.pattern
        for _, pattern, _, _ in _value.PREFILTER.rules
        if _can_match_digits_only(_parser.parse(pattern.pattern))
    ]
    assert able == []


def full(text: str) -> object:
    return _value._every_rule(canonicalise(text), rich_text=False)


@given(st.text(alphabet="0123456789", max_size=40))
def test_numbers_score_as_in_full(text: str) -> None:
    assert inspect_value(text) == full(text)


@pytest.mark.parametrize(
    "word", ["sysobjects", "SYSCOLUMNS", "sysdatabases", "0x41424344", "select1", "selectnull"]
)
def test_short_words_are_scored(word: str) -> None:
    """A short word without punctuation can still be a signal; it is scored, not waved through."""
    assert inspect_value(word) == full(word)
    assert inspect_value(word).score > 0


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_ascii_scores_as_in_full(text: str) -> None:
    assert inspect_value(text) == full(text)
    assert re.fullmatch(r"[\x00-\x7f]*", text)
