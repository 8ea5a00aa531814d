"""Strict JSON for Alipay bodies, and the exact text of each top-level member.

Alipay signs the literal text of a response node (platforms.md 3.3), so verification needs
the slice of the body that holds a member's value, not a re-serialisation. The slice is
delimited by the standard library's JSON scanner itself, never by searching for ``"sign"``.
Parsing is strict: no ``NaN``/``Infinity``, no duplicate keys at any depth, no trailing data;
every fault (deep nesting included) is a ``ValueError``.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["raw_members", "strict_loads"]

_WS = re.compile(r"[ \t\n\r]*")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError("non-standard JSON constant")


_STRICT_JSON = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_no_constant)


def _skip(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _decode_at(text: str, pos: int) -> tuple[Any, int]:
    try:
        return _STRICT_JSON.raw_decode(text, pos)
    except RecursionError:
        raise ValueError("too deeply nested") from None


def strict_loads(text: str) -> Any:
    """Strict JSON: no NaN/Infinity, no duplicate keys. Raises ``ValueError``."""
    value, end = _decode_at(text, _skip(text, 0))
    if _skip(text, end) != len(text):
        raise ValueError("trailing data")
    return value


def _member(text: str, pos: int) -> tuple[str, str, Any, int]:
    """One ``"key": value`` at ``pos``: (key, exact value text, parsed value, end)."""
    if text[pos : pos + 1] != '"':
        raise ValueError("expected a key")
    key, pos = _decode_at(text, pos)
    pos = _skip(text, pos)
    if text[pos : pos + 1] != ":":
        raise ValueError("expected ':'")
    start = _skip(text, pos + 1)
    value, end = _decode_at(text, start)
    return key, text[start:end], value, end


def raw_members(text: str) -> dict[str, tuple[str, Any]]:
    """The top-level members of a JSON object: key -> (exact value text, parsed value).

    The value text is the literal slice of ``text`` (escapes and spacing untouched), delimited
    by the JSON scanner itself, so a ``"sign"`` member nested in the node cannot cut it short.
    Raises ``ValueError`` for anything but one strict JSON object without duplicate keys.
    """
    pos = _skip(text, 0)
    if text[pos : pos + 1] != "{":
        raise ValueError("not an object")
    members: dict[str, tuple[str, Any]] = {}
    pos = _skip(text, pos + 1)
    closing = text[pos : pos + 1] == "}"
    while not closing:
        key, raw, value, pos = _member(text, pos)
        if key in members:
            raise ValueError("duplicate key")
        members[key] = (raw, value)
        pos = _skip(text, pos)
        closing = text[pos : pos + 1] == "}"
        if not closing:
            if text[pos : pos + 1] != ",":
                raise ValueError("expected ',' or '}'")
            pos = _skip(text, pos + 1)
    if _skip(text, pos + 1) != len(text):
        raise ValueError("trailing data")
    return members
