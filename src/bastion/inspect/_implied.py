"""Which rules imply their table's gate, so that a match of the rule proves the gate matches.

A gate (the cheap pattern in front of the SQLi or XSS table) only has to be searched for a
value when a rule of its table matched that does not imply it. A rule implies the gate when
every match of the rule must contain one of a few strings (a run of literal characters, one
character of a small class, or one such string per branch of an alternation) and the gate
finds a match inside each of them: the rule's match then holds a gate match. What this
reasoning does not cover counts as not implied, and the gate is searched as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["implies"]

try:  # the standard library's own parser of regular expressions
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - another Python: every gate is searched
    _parser = None

_Holds = Callable[[str], bool]


def _class_chars(items: list[tuple[Any, Any]]) -> set[str] | None:
    chars: set[str] = set()
    for op, arg in items:
        if op is not _sre.LITERAL:
            return None  # ranges, categories, negation: not reasoned about
        chars.add(chr(arg))
    return chars


def _good_sets(items: Any, holds: _Holds) -> list[set[str]]:
    """Sets of strings, each required by every match of the parsed sequence (a match contains
    one of the set's strings) and each made only of strings ``holds`` accepts."""
    good: list[set[str]] = []

    def consider(strings: set[str] | None) -> None:
        if strings and all(holds(s) for s in strings):
            good.append(strings)

    run = ""
    for op, arg in items:
        if op is _sre.LITERAL:
            run += chr(arg)
            continue
        consider({run} if run else None)
        run = ""
        if op is _sre.IN:
            consider(_class_chars(arg))
        elif op is _sre.BRANCH:
            per_branch = [_good_sets(branch, holds) for branch in arg[1]]
            if all(per_branch):
                consider(set().union(*(sets[0] for sets in per_branch)))
        elif op is _sre.SUBPATTERN:
            if not arg[1] and not arg[2]:  # no inline flags
                good.extend(_good_sets(arg[-1], holds))
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and arg[0] >= 1:
            good.extend(_good_sets(arg[2], holds))
    consider({run} if run else None)
    return good


def implies(rule: re.Pattern[str], gate: re.Pattern[str]) -> bool:
    """True only when every match of ``rule`` contains a match of ``gate``."""
    if _parser is None or rule.flags & (re.IGNORECASE | re.VERBOSE):
        return False  # pragma: no cover

    def holds(text: str) -> bool:
        return gate.search(text) is not None

    try:
        return bool(_good_sets(_parser.parse(rule.pattern), holds))
    except Exception:  # pragma: no cover - a construct parsed in another shape
        return False
