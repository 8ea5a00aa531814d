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
from html.entities import html5
from urllib.parse import unquote

__all__ = [
    "MAX_INSPECTED_CHARS",
    "Canonical",
    "Rules",
    "canonicalise",
    "collapse_spaces",
    "forms",
    "may_hold_references",
    "rules",
    "weigh",
]

MAX_INSPECTED_CHARS = 8192

_LEFTOVER_ENCODING = re.compile(r"%(?:25)?(?:2[27]|3[ce]|60|00)", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COMMENT = re.compile(r"/\*(?!!)[^*]{0,200}\*/")


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
    decoded = unquote(value, errors="replace")
    return html.unescape(decoded) if may_hold_references(decoded) else decoded


_REFERENCE_STARTS = frozenset(name[:2] for name in html5) | {"#"}
"""Every character reference ``html.unescape`` replaces starts ``&#`` or ``&`` and the first
two letters of an HTML5 entity name (the shortest names, ``lt`` and ``gt``, have two)."""


def may_hold_references(text: str) -> bool:
    """False when ``html.unescape`` would return ``text`` unchanged (its decoding loop is slow
    on query strings: ``&q=...`` looks like a reference until every prefix was tried)."""
    at = text.find("&")
    while at >= 0:
        if text[at + 1 : at + 3] in _REFERENCE_STARTS or text[at + 1 : at + 2] == "#":
            return True
        at = text.find("&", at + 1)
    return False


def canonicalise(value: str) -> Canonical:
    """Return the canonical form of ``value``; the decoder runs exactly once. Never raises."""
    text, compact, double = forms(value)
    return Canonical(text, compact, double, len(value) > MAX_INSPECTED_CHARS)


def forms(value: str) -> tuple[str, str, bool]:
    """``(text, compact, double_encoded)`` of :class:`Canonical`, without building one (the
    hot path). ``compact`` is ``text`` itself when compacting changes nothing."""
    if (
        value.isascii()
        and "%" not in value
        and "&" not in value  # nothing to decode, and NFKC leaves ASCII alone
        and len(value) <= MAX_INSPECTED_CHARS
    ):
        if value.isprintable():  # no control character to remove, no whitespace but spaces
            text = value.lower()
            if "/*" in text or "  " in text:
                return text, _compact(text), False
            return text, text, False
        if _CONTROL.search(value) is not None:  # else only line breaks and tabs
            value = _CONTROL.sub("", value)
        text = value.lower()
        return text, collapse_spaces(_COMMENT.sub(" ", text) if "/*" in text else text), False
    head = value[:MAX_INSPECTED_CHARS]
    if "%" in head or "&" in head:
        decoded = _decode_once(head)
        double = _LEFTOVER_ENCODING.search(decoded) is not None
    else:  # nothing to decode (both decoders would return it as it is)
        decoded, double = head, False
    normal = decoded
    if not decoded.isascii():  # NFKC leaves ASCII alone
        normal = unicodedata.normalize("NFKC", decoded)[:MAX_INSPECTED_CHARS]
    if not normal.isprintable():  # a control character is never printable
        normal = _CONTROL.sub("", normal)
    text = normal.lower()
    return text, _compact(text), double


def _compact(text: str) -> str:
    r"""Comments out, whitespace runs collapsed (``\s+`` to one space). Python's ``\s`` is
    exactly ``str.isspace`` and every such character but the ASCII space is unprintable, so
    printable text without two spaces in a row has nothing to collapse, and ``str.split``
    finds the same runs as the regular expression, faster (tests/inspect/test_canonical.py)."""
    compact = _COMMENT.sub(" ", text) if "/*" in text else text
    if "  " in compact or not compact.isprintable():
        compact = collapse_spaces(compact)
    return compact


def collapse_spaces(text: str) -> str:
    r"""``re.sub(r"\s+", " ", text)``."""
    words = text.split()
    if not words:
        return " " if text else text
    inner = " ".join(words)
    if text[0].isspace():
        inner = " " + inner
    if text[-1].isspace():
        inner += " "
    return inner


Rules = tuple[tuple[re.Pattern[str], float], ...]


def rules(*pairs: tuple[str, float]) -> Rules:
    """Compile ``(pattern, weight)`` pairs once, at import."""
    return tuple((re.compile(p), w) for p, w in pairs)


def weigh(text: str, table: Rules) -> float:
    """Sum the weights of the rules in ``table`` that match ``text`` (each rule counts once)."""
    return float(sum(w for p, w in table if p.search(text) is not None))
