"""Shared by the signing tests: sign a request with the Python signer and build the
:class:`SignedRequest` a server would see."""

from __future__ import annotations

from collections.abc import Mapping

from bastion.signing import IssuedKey, SignedRequest, combine_headers, sign_request


def signed(
    key: IssuedKey,
    *,
    created: float,
    method: str = "POST",
    path: str = "/api/orders",
    query: str = "b=2&a=1",
    body: bytes = b'{"qty":1}',
    headers: Mapping[str, str] | None = None,
    nonce: str | None = None,
    key_id: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """The request's headers (lower-case names, signature added) and body."""
    base = dict(headers if headers is not None else {"Content-Type": "application/json"})
    added = sign_request(
        key_id=key_id or key.key_id,
        secret=key.secret,
        method=method,
        path=path,
        query=query,
        headers=base,
        body=body,
        created=int(created),
        nonce=nonce,
    )
    return combine_headers([*base.items(), *added.items()]), body


def as_request(
    headers: Mapping[str, str],
    method: str = "POST",
    path: str = "/api/orders",
    query: str = "b=2&a=1",
) -> SignedRequest:
    return SignedRequest(method, path, query, dict(headers))
