r"""A one-pass prefilter over every detector rule, with Hyperscan when it is installed.

Each rule is compiled into Hyperscan databases in *prefilter* mode, which may report a rule
that does not really match (constructs Hyperscan lacks, such as back-references and
look-aheads, are widened) but never misses one that does. One scan per text then names the few
rules worth running; only those are confirmed with Python's ``re``, so verdicts are exactly the
pure-Python ones, at a fraction of the cost for ordinary input.

ASCII text is scanned as it is. Other text is scanned as one byte per character against rules
rewritten so that the scan still never misses (see ``_widen``): Python's ``\w``, ``\d``, ``\s``
and ``\b`` are Unicode-aware and Hyperscan's are not, and its Unicode mode makes some of our
rules take minutes to compile. Without Hyperscan (it needs x86-64) :meth:`Prefilter.hits`
returns None and every rule runs, as before. The databases are compiled on first use (about a
second), not at import.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from bastion.inspect._canonical import Rules
from bastion.inspect._widen import one_byte_per_char, widen

__all__ = ["Prefilter", "Rule"]

Rule = tuple[int, re.Pattern[str], float, bool]
"""``(table index, pattern, weight, matched against the compacted text)``."""

_hs: Any
try:  # pragma: no cover - import guard
    import hyperscan as _hs
except ImportError:  # pragma: no cover - not on this platform
    _hs = None

_DISABLED = os.environ.get("BASTION_NO_HYPERSCAN") == "1"
"""Set to 1 to run every rule in pure Python even where Hyperscan is installed."""
_FLAGS = 0
if _hs is not None:
    _FLAGS = _hs.HS_FLAG_PREFILTER | _hs.HS_FLAG_SINGLEMATCH


def _compile(rules: list[tuple[int, bytes]]) -> Any:
    """One database; each rule reports its flat index."""
    db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
    db.compile(
        expressions=[expression for _, expression in rules],
        ids=[flat for flat, _ in rules],
        elements=len(rules),
        flags=[_FLAGS] * len(rules),
    )
    return db


def _compiles(rule: tuple[int, bytes]) -> bool:
    try:
        _compile([rule])
    except _hs.error:
        return False
    return True


def _on_match(rule: int, start: int, end: int, flags: int, found: list[int]) -> None:
    found.append(rule)


class _Database:
    """One Hyperscan database over some of the rules (by their flat index), scanned against one
    text. A rule Hyperscan cannot compile is reported on every scan."""

    def __init__(self, rules: list[tuple[int, str]], transform: Callable[[str], str]) -> None:
        assert _hs is not None
        expressions = [(flat, transform(pattern).encode()) for flat, pattern in rules]
        try:
            self.db = _compile(expressions)
            self.always: list[int] = []
        except _hs.error:  # some rule is beyond Hyperscan: find it, and run it every time
            kept = [rule for rule in expressions if _compiles(rule)]
            self.always = [flat for flat, e in expressions if (flat, e) not in kept]
            self.db = _compile(kept)
        self._local = threading.local()

    def scan(self, data: bytes, found: list[int]) -> None:
        try:
            scratch = self._local.scratch
        except AttributeError:  # the first scan on this thread
            scratch = self._local.scratch = _hs.Scratch(self.db)
        self.db.scan(data, _on_match, 0, found, scratch)
        if self.always:
            found.extend(self.always)


class _Alphabet:
    """The three databases for one alphabet: compact-text rules, plain-text rules, and both
    (one scan when the compacted text equals the plain one, the common case)."""

    def __init__(self, rules: Sequence[Rule], transform: Callable[[str], str]) -> None:
        on_compact = [(i, r[1].pattern) for i, r in enumerate(rules) if r[3]]
        on_text = [(i, r[1].pattern) for i, r in enumerate(rules) if not r[3]]
        self.compact = _Database(on_compact, transform)
        self.text = _Database(on_text, transform)
        self.both = _Database(on_compact + on_text, transform)


def _same(pattern: str) -> str:
    return pattern


class Prefilter:
    """Built once at import from the detector tables, each a ``(rules, on_compact)`` pair:
    ``on_compact`` rules are matched against the compacted text, the others against the plain
    canonical text. :attr:`rules` lists every rule flat, table after table."""

    def __init__(self, tables: Sequence[tuple[Rules, bool]]) -> None:
        self.rules: tuple[Rule, ...] = tuple(
            (t, pattern, weight, on_compact)
            for t, (table, on_compact) in enumerate(tables)
            for pattern, weight in table
        )
        self._alphabets: tuple[_Alphabet, _Alphabet] | None = None
        self._lock = threading.Lock()
        self.available = _hs is not None and not _DISABLED

    def _compiled(self) -> tuple[_Alphabet, _Alphabet]:
        with self._lock:
            if self._alphabets is None:
                self._alphabets = (_Alphabet(self.rules, _same), _Alphabet(self.rules, widen))
            return self._alphabets

    def warm(self) -> None:
        """Compile now rather than on the first inspected value."""
        if self.available:
            self._compiled()

    def hits(self, text: str, compact: str) -> list[int] | None:
        """Flat indices (into :attr:`rules`) of the rules that may match; None when every
        rule has to run."""
        alphabets = self._alphabets
        if alphabets is None:
            if not self.available:
                return None
            alphabets = self._compiled()
        found: list[int] = []
        try:
            if text.isascii():
                alphabet, encode = alphabets[0], _ascii
            else:
                alphabet, encode = alphabets[1], one_byte_per_char
            if compact == text:
                alphabet.both.scan(encode(text), found)
            else:
                alphabet.compact.scan(encode(compact), found)
                alphabet.text.scan(encode(text), found)
        except Exception:  # any scanner fault: fall back to running every rule
            return None
        return found


def _ascii(text: str) -> bytes:
    return text.encode("ascii")
