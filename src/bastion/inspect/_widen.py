r"""Rewrite a rule so that a byte scan can stand in for it on non-ASCII text.

Hyperscan scans bytes and its ``\w``, ``\d``, ``\s`` and ``\b`` are ASCII-only, while Python's
are Unicode-aware. :func:`one_byte_per_char` turns a text into one byte per character: ASCII
characters stay themselves and every other character becomes ``?``. :func:`widen` rewrites a
rule so that, on those bytes, it matches wherever the Python rule matches the text (and
possibly more, which the Python confirmation then drops):

* every rule is ASCII, so a non-ASCII character never equals one of its literals;
* ``\w``, ``\d`` and ``\s``, alone or in a positive class, also accept ``?`` (a non-ASCII
  character may be a letter, a digit or a space to Python);
* a negated class (``[^a-z]``) must not hold ``?`` (checked) and so accepts it, as ``.``,
  ``\W``, ``\S`` and ``\D`` do;
* ``\b`` is dropped (Python's word boundary depends on Unicode letters; without the assertion
  the rule only matches more);
* lengths and positions are unchanged, since each character is one byte, so bounded gaps
  (``.{0,40}``), ``^`` and ``$`` mean the same.

A real ``?`` in the text is then taken for a possible letter, digit or space: the scan may
name more rules, never fewer. Look-arounds and back-references are left to Hyperscan's
prefilter mode, which widens them.
"""

from __future__ import annotations

__all__ = ["PLACEHOLDER", "one_byte_per_char", "widen"]

PLACEHOLDER = "?"
_WIDENED = {"w", "d", "s"}


def one_byte_per_char(text: str) -> bytes:
    """``text`` as one byte per character: ASCII as itself, anything else ``?``."""
    return text.encode("ascii", "replace")


def widen(pattern: str) -> str:
    """The byte pattern for ``pattern`` described in the module docstring. Raises ValueError
    on a construct this rewrite does not reason about (checked when the prefilter is built)."""
    if not pattern.isascii():
        raise ValueError("non-ASCII rule")
    out: list[str] = []
    in_class = negated = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            pair = pattern[i : i + 2]
            if negated and pair == "\\" + PLACEHOLDER:
                raise ValueError(f"negated class holding {PLACEHOLDER!r} in {pattern!r}")
            out.append(_escape(pair, in_class=in_class, negated=negated))
            i += 2
            continue
        if in_class and char == "]" and not _class_opened_at(out):
            in_class = negated = False
        elif negated and char == PLACEHOLDER:
            raise ValueError(f"negated class holding {PLACEHOLDER!r} in {pattern!r}")
        elif not in_class and char == "[":
            in_class = True
            negated = pattern.startswith("^", i + 1)
            if negated:
                char = "[^"
                i += 1
        elif (
            not in_class
            and pattern.startswith("(?", i)
            and not pattern.startswith(("(?:", "(?!", "(?="), i)
        ):
            raise ValueError(f"unsupported group in {pattern!r}")
        out.append(char)
        i += 1
    if in_class:
        raise ValueError(f"unterminated class in {pattern!r}")
    return "".join(out)


def _class_opened_at(out: list[str]) -> bool:
    """A ``]`` right after ``[`` or ``[^`` is a literal, not the end of the class."""
    return bool(out) and out[-1] in ("[", "[^")


def _escape(pair: str, *, in_class: bool, negated: bool) -> str:
    letter = pair[1:]
    if letter in _WIDENED:
        if not in_class:
            return f"[{pair}{PLACEHOLDER}]"
        return pair if negated else pair + PLACEHOLDER
    if letter == "b":
        if in_class:
            raise ValueError("backspace in a class")
        return ""
    if letter.isalpha() and letter not in ("W", "D", "S", "n", "t", "r"):
        raise ValueError(f"unsupported escape {pair!r}")
    return pair
