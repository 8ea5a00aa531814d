"""What the gate reads of a request besides its credential: the header fields as one map,
and the inputs it inspects (query string, cookies, ``Referer``, ``User-Agent``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from urllib.parse import parse_qsl

from bastion.inspect import MAX_VALUES, Verdict, inspect_fields

__all__ = ["header_map", "inspect_inputs"]

_UA_CACHE = 4096
_QUERY_CACHE = 4096
_CACHED_QUERY_CHARS = 256
_CACHED_AGENT_CHARS = 512


@lru_cache(maxsize=_UA_CACHE)
def _user_agent_verdict(value: str) -> Verdict:
    """User-Agent values repeat across requests (a few browsers and app versions): score each
    distinct value once."""
    return inspect_fields((("user-agent", value),))


@lru_cache(maxsize=_QUERY_CACHE)
def _query_verdict(query: str, rich_text: tuple[str, ...]) -> Verdict | None:
    """The verdict on a short query string (None when it holds no field). API clients send
    the same few query strings again and again (``status=open&page=2``); the verdict is a pure
    function of the text and the route's rich-text fields, so each pair is scored once."""
    fields = parse_qsl(query, keep_blank_values=True)
    return inspect_fields(fields, rich_text_fields=rich_text) if fields else None


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


@lru_cache(maxsize=_QUERY_CACHE)
def _plain_verdict(query: str, agent: str, rich_text: tuple[str, ...]) -> Verdict | None:
    """The whole verdict of a request without cookies or ``Referer`` (API clients): its
    query string and ``User-Agent``, a pure function of both, looked up once per request."""
    verdict = _user_agent_verdict(agent) if agent else None
    return _worst(verdict, _query_verdict(query, rich_text)) if query else verdict


def inspect_inputs(
    query: str, headers: Mapping[str, str], rich_text: Iterable[str] = ()
) -> Verdict | None:
    """The verdict on a request's query string, cookies, ``Referer`` and ``User-Agent``;
    None when it has none of them."""
    cookie = headers.get("cookie")
    referer = headers.get("referer")
    agent = headers.get("user-agent")
    # Cached verdicts need a hashable rich-text list and bounded keys.
    rich = rich_text if isinstance(rich_text, tuple) and len(query) <= _CACHED_QUERY_CHARS else None
    if rich is not None and not cookie and not referer and len(agent or "") <= _CACHED_AGENT_CHARS:
        return _plain_verdict(query, agent or "", rich)
    fields: list[tuple[str, str]] = []
    if cookie:
        fields.extend(_cookies(cookie))
    if referer:
        fields.append(("referer", referer))
    verdict = _user_agent_verdict(agent) if agent else None
    if query:
        # The worst of two verdicts equals the verdict on both sets of fields, unless together
        # they pass MAX_VALUES (scored "oversized"): a short query holds at most 129 fields.
        if rich is not None and len(fields) < MAX_VALUES - _CACHED_QUERY_CHARS:
            verdict = _worst(verdict, _query_verdict(query, rich))
        else:
            fields[:0] = parse_qsl(query, keep_blank_values=True)
    if not fields:
        return verdict
    return _worst(verdict, inspect_fields(fields, rich_text_fields=rich_text))
