"""Rich-text sanitisation by allow-list (nh3) and contextual output encoding (ASVS V1.2.1,
V1.3.1): what comes out is inert in its context, whatever goes in."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.inspect import (
    DEFAULT_ATTRIBUTES,
    DEFAULT_TAGS,
    DEFAULT_URL_SCHEMES,
    HtmlSanitizer,
    escape_html,
    js_string,
    json_for_html,
    url_component,
)
from tests.vectors import vector_path

CLEAN = HtmlSanitizer()
_C0_AND_SPACE = "".join(map(chr, range(0x21)))


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ('<p onclick="x()">Hi <script>alert(1)</script><b>there</b></p>', "<p>Hi <b>there</b></p>"),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        (
            '<a href="https://e.example/">x</a>',
            '<a href="https://e.example/" rel="noopener noreferrer">x</a>',
        ),
        ("<img src=x onerror=alert(1)>", '<img src="x">'),
        ("<svg><g onload=alert(1)></g></svg>text", "text"),
        ("<style>body{}</style>kept", "kept"),
        ("<!-- comment -->ok", "ok"),
        ("<iframe src=//evil></iframe>", ""),
    ],
)
def test_known_xss_forms_are_cleaned(dirty: str, clean: str) -> None:
    assert CLEAN.clean(dirty) == clean


def test_markdown_and_code_pass_unchanged_in_meaning() -> None:
    text = "# Title\n\nUse `SELECT name FROM users` and **bold** - see <https://x.example>"
    assert html.unescape(CLEAN.clean(text)).startswith("# Title")
    assert "SELECT name FROM users" in CLEAN.clean(text)


def test_the_allow_list_is_configurable() -> None:
    only_bold = HtmlSanitizer(tags={"b"}, attributes={}, url_schemes={"https"})
    assert only_bold.clean("<b>x</b><i>y</i><a href='https://a'>z</a>") == "<b>x</b>yz"


class _Markup(HTMLParser):
    """Collects every tag and attribute of a fragment as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def _assert_inert(cleaned: str, source: str) -> None:
    parser = _Markup()
    parser.feed(cleaned)
    parser.close()
    for tag, attrs in parser.found:
        assert tag in DEFAULT_TAGS, (tag, source)
        for name, value in attrs:
            allowed = DEFAULT_ATTRIBUTES.get(tag, frozenset()) | DEFAULT_ATTRIBUTES["*"]
            assert name == "rel" or name in allowed, (tag, name, source)
            if name in ("href", "src") and value:
                # as a browser's URL parser reads it: leading C0/space stripped, tab/LF removed
                url = re.sub(r"[\t\n\r]", "", value.lstrip(_C0_AND_SPACE))
                scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
                assert scheme is None or scheme[1].lower() in DEFAULT_URL_SCHEMES, (value, source)


def _rows(name: str) -> list[dict[str, object]]:
    lines = vector_path(f"inspect/{name}").read_text(encoding="utf-8").split("\n")
    return [json.loads(line) for line in lines if line.strip()]


def test_what_dompurify_removes_does_not_survive_ours() -> None:
    """DOMPurify's own fixtures: whatever the input, our output holds only allow-listed tags
    and attributes and no URL with a scheme outside the allow-list."""
    rows = _rows("sanitizer_cases_dompurify.jsonl")
    assert len(rows) > 200
    for row in rows:
        _assert_inert(CLEAN.clean(str(row["input"])), str(row.get("title")))


def test_the_xss_attack_corpus_is_inert_after_cleaning() -> None:
    rows = [r for r in _rows("xss_attacks_dev.jsonl") if r.get("label") == "attack"]
    assert len(rows) > 1000
    for row in rows:
        _assert_inert(CLEAN.clean(str(row["input"])), str(row["input"])[:80])


@given(st.text(max_size=400))
def test_clean_never_raises_and_is_idempotent(text: str) -> None:
    once = CLEAN.clean(text)
    assert CLEAN.clean(once) == once


@given(st.text(max_size=200))
def test_escape_html_leaves_no_markup(text: str) -> None:
    out = escape_html(text)
    assert not set("<>\"'") & set(out)
    assert html.unescape(out) == text


@given(st.text(max_size=200))
def test_js_string_is_a_literal_that_cannot_close_a_script(text: str) -> None:
    out = js_string(text)
    assert json.loads(out) == text
    assert "<" not in out and ">" not in out and "&" not in out
    assert "\u2028" not in out and "\u2029" not in out


@given(st.recursive(st.text(max_size=20), lambda c: st.lists(c, max_size=4), max_leaves=10))
def test_json_for_html_round_trips(value: object) -> None:
    out = json_for_html(value)
    assert json.loads(out) == value and "</" not in out


@given(st.text(max_size=200))
def test_url_component_reserves_every_delimiter(text: str) -> None:
    out = url_component(text)
    assert not set("/?#&=:@ ") & set(out)
    assert unquote(out) == text
