"""Ed25519 response signatures: the canonical response, signing, and the client's verifier.

The header ``Bastion-Response-Signature: v1;kid=<kid>;created=<unix seconds>;sig=<base64url>``
signs these lines joined by LF (UTF-8, no trailing LF)::

    bastion-response-signature/v1
    <kid>
    <created>
    <status>                      three digits
    <content-type>                the Content-Type header as sent, or empty
    <request id>                  the X-Request-ID of the exchange, or empty
    <METHOD>                      the request method, upper case
    <target>                      the request path and query as sent
    <base64url(SHA-256(body))>    unpadded

Binding the method, target and request id means a genuine response cannot be passed off as
the answer to another request; ``created`` lets the client refuse stale ones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

from bastion.crypto._ed25519 import ed25519_verify
from bastion.crypto._sealed_keys import b64url, public_keys, unb64url
from bastion.crypto._sealed_primitives import SignPrivateKey
from bastion.errors import ResponseSignatureInvalid

__all__ = ["SIGNATURE_HEADER", "canonical_response", "sign_response", "verify_response"]

SIGNATURE_HEADER: Final = "bastion-response-signature"
LABEL: Final = "bastion-response-signature/v1"
_HEADER: Final = re.compile(
    r"^v1;kid=(?P<kid>[A-Za-z0-9_-]{1,32});created=(?P<created>[0-9]{1,12});"
    r"sig=(?P<sig>[A-Za-z0-9_-]{86})\Z"
)


def canonical_response(
    *,
    kid: str,
    created: int,
    status: int,
    content_type: str,
    request_id: str,
    method: str,
    target: str,
    body: bytes,
) -> bytes:
    """The bytes a response signature covers (module docstring). ``ValueError`` if a field
    holds a line break (no real HTTP field can)."""
    digest = b64url(hashlib.sha256(body).digest())
    fields = [LABEL, kid, str(created), f"{status:03d}", content_type, request_id]
    fields += [method.upper(), target, digest]
    if any("\n" in f or "\r" in f for f in fields):
        raise ValueError("a signed response field holds a line break")
    return "\n".join(fields).encode("utf-8")


def sign_response(kid: str, key: SignPrivateKey, *, created: int, **response: Any) -> str:
    """The ``Bastion-Response-Signature`` header value for a response (see the fields of
    :func:`canonical_response`)."""
    message = canonical_response(kid=kid, created=created, **response)
    return f"v1;kid={kid};created={created};sig={b64url(key.sign(message))}"


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def verify_response(
    keys: Mapping[str, Any],
    *,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    method: str,
    target: str,
    request_id: str | None = None,
    now: float | None = None,
    max_age_seconds: float = 300,
) -> str:
    """Check a response's ``Bastion-Response-Signature`` against the pinned key document
    ``keys`` (from ``/.well-known/bastion-keys``); returns the signing kid.

    ``request_id`` is the ``X-Request-ID`` the client sent (default: the response's own);
    with ``now``, a signature created more than ``max_age_seconds`` away is refused. Fails
    closed with :class:`~bastion.errors.ResponseSignatureInvalid` for a missing, malformed,
    unknown-key, stale or wrong signature; Ed25519 verification is strict (RFC 8032)."""
    lowered = _lower(headers)
    match = _HEADER.match(lowered.get(SIGNATURE_HEADER, ""))
    if match is None:
        raise ResponseSignatureInvalid("The response signature header is missing or malformed.")
    kid, created = match["kid"], int(match["created"])
    try:
        public = dict(public_keys(keys, "sig")).get(kid)
        signature = unb64url(match["sig"])
        message = canonical_response(
            kid=kid,
            created=created,
            status=status,
            content_type=lowered.get("content-type", ""),
            request_id=lowered.get("x-request-id", "") if request_id is None else request_id,
            method=method,
            target=target,
            body=body,
        )
    except ValueError:
        raise ResponseSignatureInvalid from None
    if public is None:
        raise ResponseSignatureInvalid("The response is signed by a key not in the document.")
    if now is not None and abs(now - created) > max_age_seconds:
        raise ResponseSignatureInvalid("The response signature is stale.")
    if not ed25519_verify(public, signature, message):
        raise ResponseSignatureInvalid
    return kid
