"""The canonicaliser's shortcuts give exactly the forms of the plain algorithm (decode once,
NFKC, control characters out, lower-case, comments out, ``\\s+`` collapsed), for any input."""

from __future__ import annotations

import html
import re
import sys
import unicodedata
from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.inspect._canonical import (
    MAX_INSPECTED_CHARS,
    collapse_spaces,
    forms,
    may_hold_references,
)
from bastion.inspect._xss import split_script_url

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COMMENT = re.compile(r"/\*(?!!)[^*]{0,200}\*/")
_SPACE = re.compile(r"\s+")
_LEFTOVER = re.compile(r"%(?:25)?(?:2[27]|3[ce]|60|00)", re.I)


def reference(value: str) -> tuple[str, str, bool]:
    """Every step run every time, in the documented order."""
    decoded = html.unescape(unquote(value[:MAX_INSPECTED_CHARS], errors="replace"))
    double = _LEFTOVER.search(decoded) is not None
    normal = unicodedata.normalize("NFKC", decoded)[:MAX_INSPECTED_CHARS]
    text = _CONTROL.sub("", normal).lower()
    return text, _SPACE.sub(" ", _COMMENT.sub(" ", text)), double


def test_whitespace_is_what_str_isspace_says_and_never_printable() -> None:
    """The grounds for the shortcuts, checked over every code point."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert (_SPACE.fullmatch(char) is not None) == char.isspace(), hex(code)
        if (char.isspace() and char != " ") or _CONTROL.fullmatch(char):
            assert not char.isprintable(), hex(code)


_PIECES = st.sampled_from(
    ["  ", " ", "\t", "\n", "\r\n", "\x0b", "\x1c", "\x85", "\xa0", "\u3000", "\u2028", "/*",
     "*/", "/*!", "%27", "%2527", "%3C", "&lt;", "&amp;", "&#x3c;", "\x00", "\x7f", "A", "é",
     "\uff1c", "\ufdfa", "İ", "K"]
)  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.text(alphabet=st.characters(max_codepoint=127), max_size=60),
        st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=25).map("".join),
    )
)
def test_forms_equal_the_plain_algorithm(value: str) -> None:
    assert forms(value) == reference(value)


def test_forms_at_the_length_cap() -> None:
    for value in ("a /*x*/  b" * 2000, "A" * MAX_INSPECTED_CHARS + "%3C", "\ufdfa" * 9000):
        assert forms(value) == reference(value)


@given(st.text(alphabet=st.sampled_from(" \t\n\x85\u3000\u2028ab"), max_size=30))
def test_collapse_spaces_is_the_regular_expression(text: str) -> None:
    assert collapse_spaces(text) == _SPACE.sub(" ", text)


@given(st.text(alphabet=st.sampled_from(" \t\n\x00\x85\u3000javscriptb:"), max_size=30))
def test_split_script_url_is_the_regular_expression(text: str) -> None:
    squeezed = re.sub(r"[\s\x00]+", "", text)
    expected = ":" in text and ("javascript:" in squeezed or "vbscript:" in squeezed)
    assert split_script_url(text, "") == expected


_REFERENCE_BITS = st.sampled_from(
    ["&", "&&", "#", "#x", "x", "3c", "60", ";", "lt", "gt", "LT", "amp", "am", "not", "notin",
     "nbsp", "AElig", "q=1", "a", "b", " ", "\n", "=", "&#", "&lt", "\u00e9"]
)  # fmt: skip


@settings(max_examples=1500)
@given(st.lists(_REFERENCE_BITS, max_size=12).map("".join))
def test_text_without_references_is_what_unescape_leaves_alone(text: str) -> None:
    if not may_hold_references(text):
        assert html.unescape(text) == text


def test_every_entity_name_is_seen() -> None:
    from html.entities import html5

    for name in html5:
        assert may_hold_references("x&" + name)
        assert may_hold_references("&" + name + "tail")


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))
def test_printable_ascii_needs_nothing_but_lower_casing(value: str) -> None:
    """The shortcut ``inspect_value`` takes before calling :func:`forms`."""
    if not any(s in value for s in ("%", "&", "/*", "  ")):
        assert forms(value) == (value.lower(), value.lower(), False)
