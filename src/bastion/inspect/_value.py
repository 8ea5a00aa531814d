"""Scoring one value: canonicalise it, let the prefilter name the rules worth running, confirm
those in Python and add their weights up (CRS-style anomaly scoring).

The common case is short: a value no rule can match (the prefilter names none, it was not
double-encoded and holds no split ``javascript:`` URL) is clean without any rule running. When
the prefilter cannot answer (no Hyperscan, or a scanner fault) every detector runs in full.
Both ways give the same verdict (tests/inspect/test_prefilter.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bastion.inspect import _other, _sqli, _xss
from bastion.inspect._canonical import MAX_INSPECTED_CHARS, Canonical, Rules, forms
from bastion.inspect._implied import implies
from bastion.inspect._other import cmdi_score, nosqli_score, path_score, template_score
from bastion.inspect._prefilter import SURE, Prefilter
from bastion.inspect._sqli import sqli_score
from bastion.inspect._verdict import BLOCK_THRESHOLD, CLEAN, Verdict, verdict
from bastion.inspect._xss import split_script_url, xss_score

__all__ = ["PREFILTER", "inspect_value", "warm_up"]

_DETECTORS: tuple[tuple[str, Callable[[Canonical], float]], ...] = (
    ("sqli", sqli_score),
    ("xss", xss_score),
    ("path_traversal", path_score),
    ("command_injection", cmdi_score),
    ("nosql_injection", nosqli_score),
    ("template_injection", template_score),
)
_RICH_TEXT_DETECTORS = (("xss", xss_score),)

# (kind, rules, matched against the compacted text, the table's gate or None): a detector
# with a gate scores 0 when the gate does not match the compacted text.
_TABLES: tuple[tuple[str, Rules, bool, re.Pattern[str] | None], ...] = (
    ("sqli", _sqli._RULES, True, _sqli._GATE),
    ("xss", _xss._RULES, True, _xss._GATE),
    ("path_traversal", _other._PATH, False, None),
    ("command_injection", _other._CMDI, False, None),
    ("nosql_injection", _other._NOSQL, False, None),
    ("template_injection", _other._TEMPLATE, False, None),
)
_XSS = 1

PREFILTER = Prefilter([(rules, on_compact) for _, rules, on_compact, _ in _TABLES])
_RULES = tuple(
    (table, pattern.search, weight, on_compact)
    for table, pattern, weight, on_compact in PREFILTER.rules
)
_GATE_IMPLIED = frozenset(
    index
    for index, (table, pattern, _, _) in enumerate(PREFILTER.rules)
    if (gate := _TABLES[table][3]) is None or implies(pattern, gate)
)
"""Rules whose match proves their table's gate matches (or that have no gate)."""


def warm_up() -> None:
    """Compile the prefilter now (about a second) instead of on the first request."""
    PREFILTER.warm()


def inspect_value(text: str, *, rich_text: bool = False) -> Verdict:
    """Score one input value (query parameter, form field, header, cookie). Never raises.

    The value is canonicalised exactly once (percent-decoding, then HTML entities) and only its
    first 8 KiB are inspected. ``rich_text`` fields (Markdown, code snippets) are checked for
    script injection only, so prose and code about SQL or shells pass.
    """
    if (text.isdigit() and text.isascii()) or not text:
        return CLEAN  # a number (page=2, id=7): no rule matches digits alone (a test proves it)
    if (
        text.isascii()
        and text.isprintable()
        and "%" not in text
        and "&" not in text
        and "/*" not in text
        and "  " not in text
        and len(text) <= MAX_INSPECTED_CHARS
    ):  # the common case of forms(): nothing to decode, remove or compact
        canonical = compact = text.lower()
        double = False
    else:
        canonical, compact, double = forms(text)
    found = PREFILTER.hits(canonical, compact)
    if found is None:
        return _every_rule(Canonical(canonical, compact, double, False), rich_text)
    if (
        not found
        and not double
        and (":" not in canonical or not split_script_url(canonical, compact))
    ):
        return CLEAN  # the prefilter names no rule: every detector would score 0
    return _named_rules(found, canonical, compact, double, rich_text)


def _every_rule(c: Canonical, rich_text: bool) -> Verdict:
    detectors = _RICH_TEXT_DETECTORS if rich_text else _DETECTORS
    scores = {kind: fn(c) for kind, fn in detectors}
    if c.double_encoded:
        scores["double_encoding"] = BLOCK_THRESHOLD
    return verdict(scores)


def _named_rules(
    found: list[int], text: str, compact: str, double: bool, rich_text: bool
) -> Verdict:
    """The detectors' scores from the rules the prefilter named: those it matched exactly
    count at once, the others are confirmed with ``re``."""
    scores = [0.0] * len(_TABLES)
    gates: dict[int, bool] = {}
    for index in found:
        sure = index >= SURE
        if sure:
            index -= SURE
        table, search, weight, on_compact = _RULES[index]
        if rich_text and table != _XSS:
            continue
        implied = index in _GATE_IMPLIED
        if not implied and not _passes(table, compact, gates):
            continue
        if sure or search(compact if on_compact else text) is not None:
            scores[table] += weight
            if implied:
                gates[table] = True  # the match holds a match of the gate
    if scores[_XSS] < 5.0 and split_script_url(text, compact) and _passes(_XSS, compact, gates):
        scores[_XSS] += 5.0
    named = {_TABLES[table][0]: score for table, score in enumerate(scores) if score > 0}
    if double:
        named["double_encoding"] = BLOCK_THRESHOLD
    return verdict(named)


def _passes(table: int, compact: str, gates: dict[int, bool]) -> bool:
    """Whether the table's gate lets its rules count (evaluated once per value)."""
    gate = _TABLES[table][3]
    if gate is None:
        return True
    passed = gates.get(table)
    if passed is None:
        passed = gates[table] = gate.search(compact) is not None
    return passed
