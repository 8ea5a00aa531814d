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
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["MAX_INSPECTED_CHARS", "Canonical", "Rules", "canonicalise", "rules", "weigh"]

MAX_INSPECTED_CHARS = 8192

_LEFTOVER_ENCODING = re.compile(r"%(?:25)?(?:2[27]|3[ce]|60|00)", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COMMENT = re.compile(r"/\*(?!!)[^*]{0,200}\*/")
_SPACE = re.compile(r"\s+")


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


def _decode_once(value: str) -> str:
    """Percent-decode once, then HTML-entity decode once. Never raises."""
    return html.unescape(unquote(value, errors="replace"))


def canonicalise(value: str) -> Canonical:
    """Return the canonical form of ``value``; the decoder runs exactly once. Never raises."""
    truncated = len(value) > MAX_INSPECTED_CHARS
    head = value[:MAX_INSPECTED_CHARS]
    decoded = _decode_once(head)
    double = _LEFTOVER_ENCODING.search(decoded) is not None
    normal = unicodedata.normalize("NFKC", decoded)[:MAX_INSPECTED_CHARS]
    text = _CONTROL.sub("", normal).lower()
    compact = _SPACE.sub(" ", _COMMENT.sub(" ", text))
    return Canonical(text=text, compact=compact, double_encoded=double, truncated=truncated)


Rules = tuple[tuple[re.Pattern[str], float], ...]


def rules(*pairs: tuple[str, float]) -> Rules:
    """Compile ``(pattern, weight)`` pairs once, at import."""
    return tuple((re.compile(p), w) for p, w in pairs)


def weigh(text: str, table: Rules) -> float:
    """Sum the weights of the rules in ``table`` that match ``text`` (each rule counts once)."""
    return float(sum(w for p, w in table if p.search(text) is not None))
