"""The Hyperscan prefilter changes speed, never verdicts: every input of the shared corpus, and
arbitrary text, scores the same with it as with every rule run in pure Python."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.inspect import _score, inspect_value
from tests.vectors import vector_files, vector_path


class _Off:
    """A prefilter that names no rule set: every rule runs."""

    available = False

    def hits(self, text: str, compact: str) -> None:
        return None


def _pure(text: str, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as m:
        m.setattr(_score, "PREFILTER", _Off())
        return inspect_value(text)


def test_hyperscan_is_in_use_where_ci_runs() -> None:
    if not _score.PREFILTER.available:
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
    monkeypatch.setattr(_score, "PREFILTER", _Off())
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
    pure = _score.PREFILTER
    try:
        fast = inspect_value(text)
        _score.PREFILTER = _Off()  # type: ignore[assignment]
        assert inspect_value(text) == fast
    finally:
        _score.PREFILTER = pure


@pytest.mark.parametrize(
    "text", ["' or 1=1--", "<svg onload=alert(1)>", "../../etc/passwd", "a\ud800b' or '1'='1"]
)
def test_known_attacks_and_unencodable_text(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert inspect_value(text) == _pure(text, monkeypatch)
    assert inspect_value(text).attack
