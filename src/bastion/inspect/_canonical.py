"""Canonicalise one input value exactly once before detection (ASVS V1.1.1).

Decoding order is fixed: percent-decoding once, then HTML-entity decoding once, then Unicode
NFKC, NUL and control-character removal and lower-casing (NFKC output is cut to the same length
again, since it can expand a character eighteenfold). Nothing is decoded twice: a value
that still carries percent-encoded metacharacters after the single decoding pass was encoded
more than once, which is itself reported as the ``double_encoding`` signal rather than
decoded again. Only the first :data:`MAX_INSPECTED_CHARS` characters are inspected.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["MAX_INSPECTED_CHARS", "Canonical", "Hits", "Rules", "canonicalise", "rules", "weigh"]

Hits = Mapping[int, tuple[int, ...]]
"""``id(table)`` -> indices of the rules of that table that may match (see ``_prefilter``)."""

MAX_INSPECTED_CHARS = 8192

_LEFTOVER_ENCODING = re.compile(r"%(?:25)?(?:2[27]|3[ce]|60|00)", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COMMENT = re.compile(r"/\*(?!!)[^*]{0,200}\*/")
_SPACE = re.compile(r"\s+")
_ASCII_SPACE_RUNS = ("  ", "\t", "\n", "\r", "\f", "\v", "\x1c", "\x1d", "\x1e", "\x1f")
r"""In ASCII text, ``\s+`` changes something only where one of these occurs."""


@dataclass(frozen=True, slots=True)
class Canonical:
    """One value after its single decoding pass.

    ``text`` is decoded and lower-cased; ``compact`` additionally has inline ``/* */`` comments
    replaced by a space and whitespace runs collapsed; ``double_encoded`` is true when encoded
    metacharacters survived the one decoding pass.
    """

    text: str
    compact: str
    double_encoded: bool
    truncated: bool
    hits: Hits | None = None


def _decode_once(value: str) -> str:
    """Percent-decode once, then HTML-entity decode once. Never raises."""
    return html.unescape(unquote(value, errors="replace"))


def canonicalise(
    value: str, prefilter: Callable[[str, str], Hits | None] | None = None
) -> Canonical:
    """Return the canonical form of ``value``; the decoder runs exactly once. Never raises.
    ``prefilter`` names the rules that may match the result (None: all of them)."""
    truncated = len(value) > MAX_INSPECTED_CHARS
    head = value[:MAX_INSPECTED_CHARS]
    if head.isascii() and "%" not in head and "&" not in head:
        normal, double = head, False  # nothing to decode, and NFKC leaves ASCII alone
    else:
        decoded = _decode_once(head)
        double = _LEFTOVER_ENCODING.search(decoded) is not None
        normal = unicodedata.normalize("NFKC", decoded)[:MAX_INSPECTED_CHARS]
    text = _CONTROL.sub("", normal).lower()
    compact = _COMMENT.sub(" ", text) if "/*" in text else text
    if not compact.isascii() or any(c in compact for c in _ASCII_SPACE_RUNS):
        compact = _SPACE.sub(" ", compact)
    hits = prefilter(text, compact) if prefilter is not None else None
    return Canonical(text, compact, double, truncated, hits)


Rules = tuple[tuple[re.Pattern[str], float], ...]


def rules(*pairs: tuple[str, float]) -> Rules:
    """Compile ``(pattern, weight)`` pairs once, at import."""
    return tuple((re.compile(p), w) for p, w in pairs)


def weigh(text: str, table: Rules, hits: Hits | None = None) -> float:
    """Sum the weights of the rules in ``table`` that match ``text`` (each rule counts once);
    with ``hits``, only the rules the prefilter named are tried."""
    if hits is None:
        return float(sum(w for p, w in table if p.search(text) is not None))
    total = 0.0
    for index in hits.get(id(table), ()):
        pattern, weight = table[index]
        if pattern.search(text) is not None:
            total += weight
    return total
