r"""One Hyperscan scan over every detector rule, when Hyperscan is installed.

ASCII text: each rule Hyperscan supports is compiled as it is, and Hyperscan then reports it
exactly when Python's ``re`` finds a match (same syntax and the same meaning on canonical text:
no control characters, lower-cased; a test checks every rule on every corpus input and on
generated text). The few rules with look-arounds or back-references are compiled in
*prefilter* mode, which may report a rule that does not match but never misses one that does;
those are confirmed with ``re``. So one scan scores most values, with the verdicts of the
pure-Python rules.

Other text is scanned as one byte per character against rules rewritten so that the scan never
misses (see ``_widen``: Python's ``\w``, ``\d``, ``\s`` and ``\b`` are Unicode-aware and
Hyperscan's are not, and its Unicode mode makes some of our rules take minutes to compile);
every rule it names is confirmed with ``re``. Without Hyperscan (it needs x86-64, or
``BASTION_NO_HYPERSCAN=1``) :meth:`Prefilter.hits` returns None and every rule runs. The
databases are compiled on first use (about a second), not at import.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from bastion.inspect._canonical import Rules
from bastion.inspect._widen import one_byte_per_char, widen

__all__ = ["SURE", "Prefilter", "Rule"]

Rule = tuple[int, re.Pattern[str], float, bool]
"""``(table index, pattern, weight, matched against the compacted text)``."""

_hs: Any
try:  # pragma: no cover - import guard
    import hyperscan as _hs
except ImportError:  # pragma: no cover - not on this platform
    _hs = None

_DISABLED = os.environ.get("BASTION_NO_HYPERSCAN") == "1"
"""Set to 1 to run every rule in pure Python even where Hyperscan is installed."""

SURE = 1 << 20
"""A reported index ``SURE + i`` means rule ``i`` matched exactly; a plain ``i``, that it may."""

_EXACT = _PREFILTER = 0
if _hs is not None:
    _EXACT = _hs.HS_FLAG_SINGLEMATCH
    _PREFILTER = _hs.HS_FLAG_PREFILTER | _hs.HS_FLAG_SINGLEMATCH
_BEYOND_EXACT = re.compile(r"\(\?<?[=!]|\\[1-9]")
"""Look-arounds and back-references: Hyperscan matches these rules in prefilter mode only."""

_Entry = tuple[int, bytes, int]
"""``(reported index, expression, flags)``."""


def _compile(entries: list[_Entry]) -> Any:
    db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
    db.compile(
        expressions=[expression for _, expression, _ in entries],
        ids=[index for index, _, _ in entries],
        elements=len(entries),
        flags=[flags for _, _, flags in entries],
    )
    return db


def _compiles(entry: _Entry) -> bool:
    try:
        _compile([entry])
    except _hs.error:
        return False
    return True


def _entries(rules: Sequence[Rule], transform: Callable[[str], str], exact: bool) -> list[_Entry]:
    """How each rule goes into a database: exact where Hyperscan matches it as Python does,
    in prefilter mode otherwise; a rule beyond both gets no entry and runs on every scan."""
    entries: list[_Entry] = []
    for index, (_, pattern, _, _) in enumerate(rules):
        expression = transform(pattern.pattern).encode()
        if exact and not _BEYOND_EXACT.search(pattern.pattern):
            entries.append((SURE + index, expression, _EXACT))
        else:
            entries.append((index, expression, _PREFILTER))
    try:
        _compile(entries)
    except _hs.error:  # some rule is beyond what we expected: sort it out one by one
        entries = [e if _compiles(e) else (e[0] % SURE, e[1], _PREFILTER) for e in entries]
        entries = [e for e in entries if _compiles(e)]
    return entries


def _on_match(rule: int, start: int, end: int, flags: int, found: list[int]) -> None:
    found.append(rule)


class _Database:
    """One Hyperscan database over some rules. A rule Hyperscan cannot compile is reported
    (as one that may match) on every scan: :attr:`always`."""

    def __init__(self, entries: list[_Entry], indices: Sequence[int]) -> None:
        assert _hs is not None
        wanted = set(indices)
        kept = [entry for entry in entries if entry[0] % SURE in wanted]
        self.always = sorted(wanted - {entry[0] % SURE for entry in kept})
        self.db = _compile(kept)

    def scanner(self) -> Callable[[bytes, list[int]], None]:
        """A scan for one thread (Hyperscan scratch space is per thread)."""
        scan, scratch, always = self.db.scan, _hs.Scratch(self.db), self.always

        def run(data: bytes, found: list[int]) -> None:
            scan(data, _on_match, 0, found, scratch)  # positional: much cheaper than keywords
            if always:
                found.extend(always)

        return run


class _Alphabet:
    """The three databases for one alphabet: compact-text rules, plain-text rules, and both
    (one scan when the compacted text equals the plain one, the common case)."""

    def __init__(self, rules: Sequence[Rule], transform: Callable[[str], str], exact: bool) -> None:
        entries = _entries(rules, transform, exact)
        sure = {index - SURE for index, _, _ in entries if index >= SURE}
        self.confirmed = frozenset(range(len(rules))) - sure
        """The rules the scan may name without matching: ``re`` confirms these."""
        on_compact = [i for i, rule in enumerate(rules) if rule[3]]
        on_text = [i for i, rule in enumerate(rules) if not rule[3]]
        self.compact = _Database(entries, on_compact)
        self.text = _Database(entries, on_text)
        self.both = _Database(entries, on_compact + on_text)

    def scanners(self) -> tuple[Callable[[bytes, list[int]], None], ...]:
        return self.both.scanner(), self.compact.scanner(), self.text.scanner()


def _every_rule(text: str, compact: str) -> None:
    """The scan without Hyperscan: it names nothing, so every rule runs."""


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
        self._local = threading.local()
        self.available = _hs is not None and not _DISABLED

    def _compiled(self) -> tuple[_Alphabet, _Alphabet]:
        with self._lock:
            if self._alphabets is None:
                self._alphabets = (
                    _Alphabet(self.rules, _same, exact=True),
                    _Alphabet(self.rules, widen, exact=False),
                )
            return self._alphabets

    def warm(self) -> None:
        """Compile now rather than on the first inspected value."""
        if self.available:
            self._compiled()

    def hits(self, text: str, compact: str) -> list[int] | None:
        """Indices (into :attr:`rules`) of the rules that may match, plus :data:`SURE` for
        those that do; None when every rule has to run."""
        try:
            scan = self._local.scan
        except AttributeError:  # the first scan on this thread
            scan = self._local.scan = self._scanner() if self.available else _every_rule
        found: list[int] | None = scan(text, compact)
        return found

    def _scanner(self) -> Callable[[str, str], list[int] | None]:
        """The scan for one thread. The common case, ASCII text that compacting leaves alone
        and databases without a rule beyond Hyperscan, calls Hyperscan directly."""
        ascii_, other = self._compiled()
        ascii_both, ascii_compact, ascii_text = ascii_.scanners()
        other_both, other_compact, other_text = other.scanners()
        both_db = ascii_.both
        direct = both_db.db.scan if not both_db.always else None
        scratch = _hs.Scratch(both_db.db)

        def scan(text: str, compact: str) -> list[int] | None:
            found: list[int] = []
            try:
                if text.isascii():
                    if compact != text:
                        ascii_compact(compact.encode(), found)
                        ascii_text(text.encode(), found)
                    elif direct is not None:
                        direct(text.encode(), _on_match, 0, found, scratch)
                    else:
                        ascii_both(text.encode(), found)
                elif compact == text:
                    other_both(one_byte_per_char(text), found)
                else:
                    other_compact(one_byte_per_char(compact), found)
                    other_text(one_byte_per_char(text), found)
            except Exception:  # any scanner fault: fall back to running every rule
                return None
            return found

        return scan
