"""What the gate reads of a request besides its credential: the header fields as one map,
and the inputs it inspects (query string, cookies, ``Referer``, ``User-Agent``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from urllib.parse import parse_qsl

from bastion.inspect import Verdict, inspect_fields

__all__ = ["header_map", "inspect_inputs"]

_UA_CACHE = 4096


@lru_cache(maxsize=_UA_CACHE)
def _user_agent_verdict(value: str) -> Verdict:
    """User-Agent values repeat across requests (a few browsers and app versions): score each
    distinct value once."""
    return inspect_fields((("user-agent", value),))


def _worst(a: Verdict | None, b: Verdict | None) -> Verdict | None:
    if a is None or b is None:
        return a or b
    kinds = tuple(dict.fromkeys(a.kinds + b.kinds))
    return Verdict(a.attack or b.attack, kinds, max(a.score, b.score))


def header_map(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI header pairs as one dict by lower-case name. A repeated field is joined, not
    dropped (``Cookie`` with ``; `` as HTTP/2 splits it, others with ``, ``), so no value
    escapes inspection by being sent twice."""
    found: dict[str, str] = {}
    for key, value in raw:
        name, text = key.decode("latin-1").lower(), value.decode("latin-1")
        if name in found:
            text = found[name] + ("; " if name == "cookie" else ", ") + text
        found[name] = text
    return found


def _cookies(header: str) -> Iterable[tuple[str, str]]:
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            yield name, value


def inspect_inputs(
    query: str, headers: Mapping[str, str], rich_text: Iterable[str] = ()
) -> Verdict | None:
    """The verdict on a request's query string, cookies, ``Referer`` and ``User-Agent``;
    None when it has none of them."""
    fields: list[tuple[str, str]] = []
    if query:
        fields.extend(parse_qsl(query, keep_blank_values=True))
    cookie = headers.get("cookie")
    if cookie:
        fields.extend(_cookies(cookie))
    referer = headers.get("referer")
    if referer:
        fields.append(("referer", referer))
    agent = headers.get("user-agent")
    verdict = _user_agent_verdict(agent) if agent else None
    if not fields:
        return verdict
    return _worst(verdict, inspect_fields(fields, rich_text_fields=rich_text))
