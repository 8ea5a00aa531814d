"""A rule said to imply its table's gate never matches where the gate does not."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.inspect import _sqli, _value, _xss
from bastion.inspect._canonical import forms
from bastion.inspect._implied import implies
from tests.vectors import vector_files, vector_path


@pytest.mark.parametrize(
    ("rule", "gate", "expected"),
    [
        (r"x--y", r"--", True),
        (r"(?:ab|cd)=", r"=", True),
        (r"[<>]a", r"[<>=]", True),
        (r"(?:ab|c)=?", r"=", False),  # the = may be absent
        (r"a(?:=|b)", r"=", False),  # one branch has no =
        (r"@import", _xss._GATE.pattern, False),
        (r"order by 1", r"order by", True),
        (r"(?:order|group) by", r"order by|group by", False),  # split by the branch: not seen
        (r"[^=]x", r"=", False),
        (r"(?i:a)=", r"=", True),  # the = is required even if the flags are not reasoned about
    ],
)
def test_implies(rule: str, gate: str, expected: bool) -> None:
    assert implies(re.compile(rule), re.compile(gate)) is expected


def test_most_gated_rules_imply_their_gate() -> None:
    gated = [(p, _value._TABLES[t][3]) for t, p, _, _ in _value.PREFILTER.rules if t < 2]
    assert sum(implies(p, g) for p, g in gated if g is not None) >= 50


def _implied_rules() -> list[tuple[re.Pattern[str], re.Pattern[str]]]:
    return [
        (pattern, gate)
        for index, (table, pattern, _, _) in enumerate(_value.PREFILTER.rules)
        if (gate := _value._TABLES[table][3]) is not None and index in _value._GATE_IMPLIED
    ]


def _violations(text: str) -> list[str]:
    _, compact, _ = forms(text)
    return [
        p.pattern for p, gate in _implied_rules() if p.search(compact) and not gate.search(compact)
    ]


def test_no_corpus_input_matches_an_implying_rule_without_its_gate() -> None:
    values = []
    for name in vector_files("inspect", "*.jsonl"):
        for line in vector_path(name).read_text(encoding="utf-8").split("\n"):
            if line.strip():
                values.append(json.loads(line)["input"])
    assert [v[:60] for v in values if _violations(v)] == []


_BITS = st.sampled_from(
    ["'", '"', "`", "(", ")", ";", "=", "<", ">", "#", "@", "--", "/*", "*/", " or ", " and ",
     "1", "a", " ", "select", "union", "from", "script", "on", "load", ":", "[", "!", "\\n"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_BITS, max_size=20).map("".join))
def test_generated_text_matches_no_implying_rule_without_its_gate(text: str) -> None:
    assert _violations(text) == []


def test_gates_are_the_tables_own() -> None:
    assert _value._TABLES[0][3] is _sqli._GATE
    assert _value._TABLES[1][3] is _xss._GATE
