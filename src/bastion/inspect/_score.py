"""Anomaly scoring of documents and field lists: every value scored (``_value``), the worst
one kept.

CRS-style: each matched signal adds its weight to the value's score; a critical signal (5)
reaches :data:`BLOCK_THRESHOLD` alone, weaker ones must add up. Detection is a monitoring and
deny-list layer; it does not replace parameterised queries, output encoding or allow-lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bastion.inspect._value import inspect_value, warm_up
from bastion.inspect._verdict import BLOCK_THRESHOLD, Verdict

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

MAX_DEPTH = 32
MAX_VALUES = 10_000


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
