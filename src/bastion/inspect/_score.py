"""Anomaly scoring: run every detector on the canonical form and add the weights up.

CRS-style: each matched signal adds its weight to the value's score; a critical signal (5)
reaches :data:`BLOCK_THRESHOLD` alone, weaker ones must add up. Detection is a monitoring and
deny-list layer; it does not replace parameterised queries, output encoding or allow-lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bastion.inspect import _other, _sqli, _xss
from bastion.inspect._canonical import Canonical, canonicalise
from bastion.inspect._other import cmdi_score, nosqli_score, path_score, template_score
from bastion.inspect._prefilter import Prefilter
from bastion.inspect._sqli import sqli_score
from bastion.inspect._xss import split_script_url, xss_score

__all__ = [
    "BLOCK_THRESHOLD",
    "MAX_DEPTH",
    "MAX_VALUES",
    "Verdict",
    "inspect_fields",
    "inspect_json",
    "inspect_value",
    "warm_up",
]

BLOCK_THRESHOLD = 5.0
MAX_DEPTH = 32
MAX_VALUES = 10_000

_DETECTORS: tuple[tuple[str, Callable[[Canonical], float]], ...] = (
    ("sqli", sqli_score),
    ("xss", xss_score),
    ("path_traversal", path_score),
    ("command_injection", cmdi_score),
    ("nosql_injection", nosqli_score),
    ("template_injection", template_score),
)
_RICH_TEXT_DETECTORS = (("xss", xss_score),)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one input: ``attack`` when ``score`` reaches :data:`BLOCK_THRESHOLD`.

    ``kinds`` lists every detector that contributed to the score, strongest first, so a
    monitor-mode route can log weak signals that did not block.
    """

    attack: bool
    kinds: tuple[str, ...]
    score: float

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape ``{"attack": bool, "kinds": [...], "score": float}``."""
        return {"attack": self.attack, "kinds": list(self.kinds), "score": self.score}


PREFILTER = Prefilter(
    on_compact=(_sqli._RULES, _xss._RULES),
    on_text=(_other._PATH, _other._CMDI, _other._NOSQL, _other._TEMPLATE),
)
_PLAIN = re.compile(r"[A-Za-z0-9]{0,32}")


def warm_up() -> None:
    """Compile the prefilter now (about half a second) instead of on the first request."""
    PREFILTER.warm()


_CLEAN = Verdict(attack=False, kinds=(), score=0.0)


def _verdict(scores: Mapping[str, float]) -> Verdict:
    hits = sorted(((s, k) for k, s in scores.items() if s > 0), key=lambda p: (-p[0], p[1]))
    total = float(sum(s for s, _ in hits))
    return Verdict(attack=total >= BLOCK_THRESHOLD, kinds=tuple(k for _, k in hits), score=total)


def inspect_value(text: str, *, rich_text: bool = False) -> Verdict:
    """Score one input value (query parameter, form field, header, cookie). Never raises.

    The value is canonicalised exactly once (percent-decoding, then HTML entities) and only its
    first 8 KiB are inspected. ``rich_text`` fields (Markdown, code snippets) are checked for
    script injection only, so prose and code about SQL or shells pass.
    """
    if _PLAIN.fullmatch(text):
        return _CLEAN  # a short word or number (page=2, status=open): nothing to decode or score
    c = canonicalise(text, PREFILTER.hits)
    if c.hits is not None and not c.hits and not c.double_encoded and not split_script_url(c):
        return _CLEAN  # the prefilter names no rule: every detector would score 0
    detectors = _RICH_TEXT_DETECTORS if rich_text else _DETECTORS
    scores = {kind: fn(c) for kind, fn in detectors}
    if c.double_encoded:
        scores["double_encoding"] = BLOCK_THRESHOLD
    return _verdict(scores)


def inspect_json(obj: object, *, rich_text_fields: Iterable[str] = ()) -> Verdict:
    """Score a decoded JSON document: every string value and key, recursively. Never raises.

    Keys starting with ``$`` are MongoDB operators (``{"password": {"$ne": null}}``) and score
    as critical ``nosql_injection``. Values under a key in ``rich_text_fields`` (and everything
    beneath them) are inspected as rich text. Documents nested deeper than :data:`MAX_DEPTH`
    or holding more than :data:`MAX_VALUES` values are not walked further and score as
    critical ``oversized``. ``score`` is the worst value's; ``kinds`` gathers every value's.
    """
    walker = _Walker(frozenset(rich_text_fields))
    walker.walk(obj, depth=0, rich=False)
    return walker.verdict()


def inspect_fields(
    fields: Iterable[tuple[str, str]], *, rich_text_fields: Iterable[str] = ()
) -> Verdict:
    """Score name/value pairs (query string, form fields, selected headers, cookies). Never raises.

    Repeated names are fine. Names are inspected too (``password[$ne]=1`` is a NoSQL operator
    injection through a query string); values under a name in ``rich_text_fields`` are inspected
    as rich text. The verdict is the worst value's, with the kinds of every flagged value; more
    than :data:`MAX_VALUES` pairs score as critical ``oversized``.
    """
    walker = _Walker(frozenset(rich_text_fields))
    for name, value in fields:
        if walker.seen > MAX_VALUES:
            walker.add(("oversized",), BLOCK_THRESHOLD)
            break
        walker.key(name)
        walker.walk(value, depth=1, rich=name in walker.rich_fields)
    return walker.verdict()


class _Walker:
    def __init__(self, rich_fields: frozenset[str]) -> None:
        self.rich_fields = rich_fields
        self.kinds: dict[str, None] = {}
        self.worst = 0.0
        self.seen = 0

    def add(self, kinds: Iterable[str], score: float) -> None:
        self.kinds.update(dict.fromkeys(kinds))
        self.worst = max(self.worst, score)

    def verdict(self) -> Verdict:
        worst = self.worst
        return Verdict(attack=worst >= BLOCK_THRESHOLD, kinds=tuple(self.kinds), score=worst)

    def key(self, name: str) -> None:
        if name.startswith("$"):
            self.add(("nosql_injection",), BLOCK_THRESHOLD)
        else:
            v = inspect_value(name)
            self.add(v.kinds, v.score)

    def walk(self, obj: object, *, depth: int, rich: bool) -> None:
        self.seen += 1
        if depth > MAX_DEPTH or self.seen > MAX_VALUES:
            self.add(("oversized",), BLOCK_THRESHOLD)
        elif isinstance(obj, str):
            v = inspect_value(obj, rich_text=rich)
            self.add(v.kinds, v.score)
        elif isinstance(obj, Mapping):
            for key, value in obj.items():
                if self.seen > MAX_VALUES:
                    break
                name = str(key)
                self.key(name)
                self.walk(value, depth=depth + 1, rich=rich or name in self.rich_fields)
        elif isinstance(obj, list | tuple):
            for item in obj:
                if self.seen > MAX_VALUES:
                    break
                self.walk(item, depth=depth + 1, rich=rich)
