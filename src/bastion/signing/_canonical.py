"""The canonical request: the RFC 9421 signature base that the HMAC covers.

A signed request covers, in this order, ``"@method"``, ``"@path"``, ``"@query"``,
``"content-digest"`` and, whenever the request has a ``Content-Type`` header,
``"content-type"`` (any further header fields may follow). The base is one line per covered
component, ``"<name>": <value>``, then ``"@signature-params": <the Signature-Input member>``,
joined by ``\\n`` with no final newline, encoded as ASCII. ``docs/signing.md`` shows it byte
by byte.

Query canonicalisation (our one departure from RFC 9421's ``@query``, which is the query as
sent): the ``&``-separated parameters are stably sorted by their name (the bytes before the
first ``=``, percent-encoding untouched), so a proxy that reorders parameters does not break a
signature while two values of one name keep their order. An absent or empty query is ``?``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from bastion.errors import InvalidSignature

__all__ = [
    "DERIVED",
    "REQUIRED",
    "SignedRequest",
    "canonical_query",
    "combine_headers",
    "signature_base",
]

REQUIRED = ("@method", "@path", "@query", "content-digest")
DERIVED = frozenset({"@method", "@path", "@query"})
NOT_COVERABLE = frozenset({"signature", "signature-input"})


def canonical_query(query: str) -> str:
    """``?`` plus the parameters stably sorted by name; ``?`` for no query."""
    if not query:
        return "?"
    params = query.split("&")
    params.sort(key=lambda p: p.partition("=")[0])
    return "?" + "&".join(params)


def combine_headers(pairs: Iterable[tuple[bytes | str, bytes | str]]) -> dict[str, str]:
    """Header fields by lower-case name; repeated lines joined with ``", "`` (RFC 9421 2.1),
    each value stripped of surrounding whitespace. Bytes are read as Latin-1."""
    out: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name = raw_name.decode("latin-1") if isinstance(raw_name, bytes) else raw_name
        value = raw_value.decode("latin-1") if isinstance(raw_value, bytes) else raw_value
        name, value = name.lower(), value.strip(" \t")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


class SignedRequest(NamedTuple):
    """What a signature covers: the method, the raw (percent-encoded) path and query as sent,
    and the header fields (lower-case names, see :func:`combine_headers`). An immutable named
    tuple: one is made per signed request."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]

    def value(self, component: str) -> str:
        """The value of one covered component; raises :class:`InvalidSignature` when it is
        absent or holds a character that cannot be signed."""
        return _values(self, (component,), lines=False)[0]


def _values(request: SignedRequest, components: Iterable[str], *, lines: bool) -> list[str]:
    """The covered values in order (or, with ``lines``, their signature base lines), each
    checked as :meth:`SignedRequest.value` describes. One loop for all of them: this runs for
    every signed request."""
    method, path, query, headers = request
    values: list[str] = []
    for component in components:
        if component == "@method":
            value = method
        elif component == "@path":
            value = path or "/"
        elif component == "@query":
            value = canonical_query(query)
        elif component in headers and component not in NOT_COVERABLE:
            value = headers[component]
        else:
            raise InvalidSignature("bad_signature", "A covered component is absent.")
        if not value.isascii() or not value.isprintable():
            raise InvalidSignature("malformed", "A covered component holds a bad character.")
        values.append(f'"{component}": {value}' if lines else value)
    return values


def signature_base(request: SignedRequest, components: Iterable[str], params: str) -> bytes:
    """The bytes the MAC covers: each component line, then ``"@signature-params"``."""
    lines = _values(request, components, lines=True)
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode("ascii")
