"""Scoring one value: canonicalise it, let the prefilter name the rules worth running, confirm
those in Python and add their weights up (CRS-style anomaly scoring).

The common case is short: a value no rule can match (the prefilter names none, it was not
double-encoded and holds no split ``javascript:`` URL) is clean without any rule running. When
the prefilter cannot answer (no Hyperscan, or a scanner fault) every detector runs in full.
Both ways give the same verdict (tests/inspect/test_prefilter.py).
"""

from __future__ import annotations

from collections.abc import Callable

from bastion.inspect import _other, _sqli, _xss
from bastion.inspect._canonical import Canonical, Rules, forms
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

# The detector tables as one flat rule list for the prefilter. The SQLi and XSS tables each sit
# behind a gate (a detector scores 0 when its gate does not match), which goes in as a table of
# its own, so the gates come first: 0 and 1 gate tables 2 and 3.
_GATES = {2: 0, 3: 1}
_TABLES: tuple[tuple[str, Rules, bool], ...] = (
    ("sqli gate", ((_sqli._GATE, 1.0),), True),
    ("xss gate", ((_xss._GATE, 1.0),), True),
    ("sqli", _sqli._RULES, True),
    ("xss", _xss._RULES, True),
    ("path_traversal", _other._PATH, False),
    ("command_injection", _other._CMDI, False),
    ("nosql_injection", _other._NOSQL, False),
    ("template_injection", _other._TEMPLATE, False),
)
_XSS_GATE, _XSS = 1, 3
_RICH_TEXT_TABLES = frozenset((_XSS_GATE, _XSS))

PREFILTER = Prefilter([(rules, on_compact) for _, rules, on_compact in _TABLES])
_RULES = tuple(
    (table, pattern.search, weight, on_compact)
    for table, pattern, weight, on_compact in PREFILTER.rules
)


def warm_up() -> None:
    """Compile the prefilter now (about a second) instead of on the first request."""
    PREFILTER.warm()


def inspect_value(text: str, *, rich_text: bool = False) -> Verdict:
    """Score one input value (query parameter, form field, header, cookie). Never raises.

    The value is canonicalised exactly once (percent-decoding, then HTML entities) and only its
    first 8 KiB are inspected. ``rich_text`` fields (Markdown, code snippets) are checked for
    script injection only, so prose and code about SQL or shells pass.
    """
    if len(text) <= 32 and ((text.isalnum() and text.isascii()) or not text):
        return CLEAN  # a short word or number (page=2, status=open): nothing to decode or score
    canonical, compact, double = forms(text)
    found = PREFILTER.hits(canonical, compact)
    if found is None:
        return _every_rule(Canonical(canonical, compact, double, False), rich_text)
    if (
        (not found or (len(found) <= 2 and found[0] % SURE < 2 and found[-1] % SURE < 2))
        and not double
        and (":" not in canonical or not split_script_url(canonical, compact))
    ):
        return CLEAN  # the prefilter names no rule but gates: every detector would score 0
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
    count at once, the others are confirmed with ``re`` (gates first, so a table whose gate
    fails is not searched)."""
    scores = [0.0] * len(_TABLES)
    maybe: list[int] = []
    for index in found:
        if index >= SURE:
            table, _, weight, _ = _RULES[index - SURE]
            scores[table] += weight
        else:
            maybe.append(index)
    if maybe:
        maybe.sort()  # gate rules first
        for index in maybe:
            table, search, weight, on_compact = _RULES[index]
            gate = _GATES.get(table)
            if gate is not None and not scores[gate]:
                continue
            if rich_text and table not in _RICH_TEXT_TABLES:
                continue
            if search(compact if on_compact else text) is not None:
                scores[table] += weight
    named: dict[str, float] = {}
    for table, score in enumerate(scores):
        gate = _GATES.get(table)
        if gate is not None and not scores[gate]:
            continue
        if table == _XSS and score < 5.0 and split_script_url(text, compact):
            score += 5.0
        if score > 0 and table not in _GATES.values() and (not rich_text or table == _XSS):
            named[_TABLES[table][0]] = score
    if double:
        named["double_encoding"] = BLOCK_THRESHOLD
    return verdict(named)
