"""The Hyperscan prefilter changes speed, never verdicts: every input of the shared corpus, and
arbitrary text, scores the same with it as with every rule run in pure Python."""

from __future__ import annotations

import json
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.inspect import _value, inspect_value
from bastion.inspect._canonical import forms
from bastion.inspect._prefilter import SURE
from tests.vectors import vector_files, vector_path


class _Off:
    """A prefilter that names no rule set: every rule runs."""

    available = False

    def hits(self, text: str, compact: str) -> None:
        return None


def _pure(text: str, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as m:
        m.setattr(_value, "PREFILTER", _Off())
        return inspect_value(text)


def test_hyperscan_is_in_use_where_ci_runs() -> None:
    if not _value.PREFILTER.available:
        if os.environ.get("CI") == "true":
            pytest.fail("hyperscan is a dependency on x86-64; the prefilter must be active in CI")
        pytest.skip("hyperscan is not installed here: every rule runs in pure Python")


def _corpus() -> list[str]:
    values: list[str] = []
    for name in vector_files("inspect", "*.jsonl"):
        for line in vector_path(name).read_text(encoding="utf-8").split("\n"):
            if line.strip():
                values.append(json.loads(line)["input"])
    return values


def test_every_corpus_input_scores_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _corpus()
    assert len(values) > 10_000
    fast = [inspect_value(v) for v in values]
    monkeypatch.setattr(_value, "PREFILTER", _Off())
    pure = [inspect_value(v) for v in values]
    differ = [v[:80] for v, a, b in zip(values, fast, pure, strict=True) if a != b]
    assert differ == []


_FRAGMENTS = st.sampled_from(
    [
        "'",
        '"',
        " or ",
        "1=1",
        "--",
        "<",
        ">",
        "script",
        "on",
        "=",
        "(",
        ")",
        "../",
        ";",
        "|",
        "$",
        "{",
        "}",
        "select",
        " union ",
        "from",
        "%27",
        "&#x3c;",
        "/*",
        "*/",
        "\n",
        " ",
    ]
)


@settings(max_examples=400)
@given(
    st.one_of(
        st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
        st.text(alphabet=st.characters(max_codepoint=127), max_size=300),
        st.lists(st.one_of(_FRAGMENTS, st.text(max_size=4)), max_size=30).map("".join),
    )
)
def test_arbitrary_text_scores_the_same(text: str) -> None:
    pure = _value.PREFILTER
    try:
        fast = inspect_value(text)
        _value.PREFILTER = _Off()  # type: ignore[assignment]
        assert inspect_value(text) == fast
    finally:
        _value.PREFILTER = pure


@pytest.mark.parametrize(
    "text", ["' or 1=1--", "<svg onload=alert(1)>", "../../etc/passwd", "a\ud800b' or '1'='1"]
)
def test_known_attacks_and_unencodable_text(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert inspect_value(text) == _pure(text, monkeypatch)
    assert inspect_value(text).attack


def _missed(text: str) -> list[str]:
    """Where the scan and Python's ``re`` disagree on ``text``'s canonical forms: a rule that
    matches but was not named, or one reported as a sure match that does not match."""
    canonical, compact, _ = forms(text)
    found = _value.PREFILTER.hits(canonical, compact)
    if found is None:
        return []
    named = {index % SURE for index in found}
    sure = {index - SURE for index in found if index >= SURE}
    wrong = []
    for index, (_, pattern, _, on_compact) in enumerate(_value.PREFILTER.rules):
        matches = pattern.search(compact if on_compact else canonical) is not None
        if matches and index not in named:
            wrong.append(f"missed {pattern.pattern}")
        if index in sure and not matches:
            wrong.append(f"not a match {pattern.pattern}")
    return wrong


def test_ascii_rules_are_matched_exactly_unless_they_need_prefilter_mode() -> None:
    """Only rules with look-arounds or back-references are left for ``re`` to confirm on
    ASCII text; on other text, every rule the scan names is."""
    if not _value.PREFILTER.available:
        pytest.skip("hyperscan is not installed here")
    ascii_, other = _value.PREFILTER._compiled()
    rules = _value.PREFILTER.rules
    confirmed = {rules[index][1].pattern for index in ascii_.confirmed}
    assert confirmed == {p.pattern for _, p, _, _ in rules if re.search(r"\(\?[=!]|\\1", p.pattern)}
    assert len(confirmed) == 3
    assert other.confirmed == frozenset(range(len(rules)))


def test_every_rule_compiles_for_both_alphabets() -> None:
    if not _value.PREFILTER.available:
        pytest.skip("hyperscan is not installed here")
    for alphabet in _value.PREFILTER._compiled():
        assert [db.always for db in (alphabet.compact, alphabet.text, alphabet.both)] == [[]] * 3


def test_no_corpus_input_has_a_rule_the_prefilter_missed() -> None:
    """Rule by rule, not just verdicts: the scan names every rule that really matches."""
    assert [(v[:60], m) for v in _corpus() if (m := _missed(v))] == []


_VARIANTS = (
    str.maketrans({" ": "\x85"}),  # a space to Python's \\s, kept by NFKC and by compacting
    str.maketrans({" ": "\u2028", "\n": "\u2029"}),
    str.maketrans(dict.fromkeys("0123456789", "\u0663")),  # a digit to Python's \\d
    str.maketrans({"a": "\xe4", "_": "\u01c0"}),  # letters to Python's \\w
)


def test_unicode_variants_of_the_corpus_miss_no_rule() -> None:
    """Every corpus input with its spaces, digits or some letters swapped for non-ASCII ones
    that Python's rules still treat as spaces, digits or letters."""
    missed = [
        (variant[:60], m)
        for value in _corpus()
        for table in _VARIANTS
        if (variant := value.translate(table)) != value and (m := _missed(variant))
    ]
    assert missed == []


_UNICODE_LOOKALIKES = st.sampled_from(
    ["\xe9", "\xa0", "\u3000", "\u0663", "\u2028", "\u017f", "\u212a", "\xb2", "\uff1c", "\x85"]
)

_MORE_TRIGGERS = st.sampled_from(
    ["$(", "id", "ls", "; ", "{{", "7*7", "}}", "${", "$ne", ":", "db.x.find", "this.a", "==",
     "1", "@@", "sleep", "exec", "system", "alert", "src", "on", "load", "<%", "%>", "`", "\t",
     "\r", "#", "-- "]
)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(
    st.one_of(
        st.text(max_size=120),
        st.lists(
            st.one_of(_FRAGMENTS, _MORE_TRIGGERS, _UNICODE_LOOKALIKES, st.text(max_size=3)),
            max_size=40,
        ).map("".join),
    )
)
def test_prefilter_names_every_matching_rule(text: str) -> None:
    """Non-ASCII letters, digits and spaces next to rule triggers: Python's Unicode ``\\w``,
    ``\\d``, ``\\s`` and ``\\b`` still never make the byte scan miss a rule."""
    assert _missed(text) == []


def test_threads_scan_with_their_own_scratch_space() -> None:
    """Hyperscan scratch space is per thread; verdicts from several threads at once are the
    single-threaded ones."""
    from concurrent.futures import ThreadPoolExecutor

    values = _corpus()[:3000]
    expected = [inspect_value(v) for v in values]
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = [pool.submit(lambda: [inspect_value(v) for v in values]) for _ in range(4)]
        assert all(run.result() == expected for run in runs)
