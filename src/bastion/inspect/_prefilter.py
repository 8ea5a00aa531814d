r"""A one-pass prefilter over every detector rule, with Hyperscan when it is installed.

Each rule is compiled into one Hyperscan database in *prefilter* mode, which may report a rule
that does not really match (constructs Hyperscan lacks, such as back-references and
look-aheads, are widened) but never misses one that does. One scan per text then names the few
rules worth running; only those are confirmed with Python's ``re``, so verdicts are exactly the
pure-Python ones, at a fraction of the cost for ordinary input.

The prefilter is used for ASCII text only: Python's ``\w``, ``\d`` and ``\s`` are Unicode-aware
and Hyperscan's are not (its Unicode mode makes some of our rules take minutes to compile), so
for other text it could miss a rule. Without Hyperscan (it needs x86-64), or for non-ASCII
text, :meth:`Prefilter.hits` returns None and every rule runs, as before. The databases are
compiled on first use (about half a second), not at import.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from bastion.inspect._canonical import Rules

__all__ = ["Hits", "Prefilter"]

Hits = Mapping[int, tuple[int, ...]]
"""``id(table)`` -> indices of the rules of that table that may match."""

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


def _compile(expressions: list[bytes]) -> Any:
    db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
    db.compile(
        expressions=expressions,
        ids=list(range(len(expressions))),
        elements=len(expressions),
        flags=[_FLAGS] * len(expressions),
    )
    return db


def _compiles(expression: bytes) -> bool:
    try:
        _compile([expression])
    except _hs.error:
        return False
    return True


class _Database:
    """One Hyperscan database over the rules of several tables, scanned against one text."""

    def __init__(self, tables: Sequence[Rules]) -> None:
        assert _hs is not None
        rules = [(id(t), i, p.pattern.encode()) for t in tables for i, (p, _) in enumerate(t)]
        try:
            self.db = _compile([expression for _, _, expression in rules])
            kept, self.always = rules, []
        except _hs.error:  # some rule is beyond Hyperscan: find it, and run it every time
            kept = [rule for rule in rules if _compiles(rule[2])]
            self.always = [(t, i) for t, i, e in rules if (t, i, e) not in kept]
            self.db = _compile([expression for _, _, expression in kept])
        self.owner = [(table, index) for table, index, _ in kept]
        self._local = threading.local()

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = _hs.Scratch(self.db)
        return scratch

    def scan(self, data: bytes, into: dict[int, list[int]]) -> None:
        owner = self.owner
        for table, index in self.always:
            into.setdefault(table, []).append(index)

        def on_match(rule: int, start: int, end: int, flags: int, context: object) -> None:
            table, index = owner[rule]
            into.setdefault(table, []).append(index)

        self.db.scan(data, match_event_handler=on_match, scratch=self._scratch())


class Prefilter:
    """Built once at import from the detector tables: ``on_compact`` rules are matched against
    the compacted text, ``on_text`` rules against the plain canonical text."""

    def __init__(self, on_compact: Sequence[Rules], on_text: Sequence[Rules]) -> None:
        self._tables = (on_compact, on_text)
        self._dbs: tuple[_Database, _Database, _Database] | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return _hs is not None and not _DISABLED

    def _databases(self) -> tuple[_Database, _Database, _Database]:
        with self._lock:
            if self._dbs is None:
                on_compact, on_text = self._tables
                both = (*on_compact, *on_text)
                self._dbs = (_Database(on_compact), _Database(on_text), _Database(both))
            return self._dbs

    def warm(self) -> None:
        """Compile now rather than on the first inspected value."""
        if self.available:
            self._databases()

    def hits(self, text: str, compact: str) -> Hits | None:
        """The rules that may match, per table; None when every rule has to run."""
        if not self.available or not text.isascii():
            return None
        compact_db, text_db, both_db = self._dbs or self._databases()
        found: dict[int, list[int]] = {}
        try:
            if compact == text:  # the common case: one scan over every rule
                both_db.scan(text.encode("ascii"), found)
            else:
                compact_db.scan(compact.encode("ascii"), found)
                text_db.scan(text.encode("ascii"), found)
        except Exception:  # any scanner fault: fall back to running every rule
            return None
        return {table: tuple(indices) for table, indices in found.items()}
