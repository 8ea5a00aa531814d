"""Sealed payloads: the construction (``docs/sealed.md`` states it for other implementations).

Request, HPKE (RFC 9180) base mode, single shot, suite DHKEM(X25519, HKDF-SHA256) /
HKDF-SHA256 / AES-256-GCM, to the server's X25519 key named by ``kid``::

    info      = "bastion-sealed/v1 request" 0x00 || header || SHA-256(METHOD SP target)
    plaintext = response_secret (32 random bytes) || frame(media type, body)

Response, AES-256-GCM under a key only this request's sender and the server know::

    key       = HKDF-SHA256(ikm = response_secret, salt = enc,
                            info = "bastion-sealed/v1 response key", L = 32)
    nonce     = 12 random bytes, sent in the envelope (GCM authenticates it)
    aad       = "bastion-sealed/v1 response" 0x00 || version (0x01) || kind (0x02)
                || status (2 bytes, big-endian) || SHA-256(METHOD SP target)
    plaintext = frame(media type, body)

The labels separate the directions: a response is not an HPKE message to the server, its kind
byte differs, and its key is derived under a label no request uses; a response is bound to the
request's ``enc``, route and status. ``cryptography`` offers HPKE single-shot only (no secret
export), hence the client-chosen response secret carried inside the sealed request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final

from bastion.crypto._sealed_format import (
    KIND_RESPONSE,
    SECRET_BYTES,
    VERSION,
    UnverifiedRequest,
    binding,
    encode_request,
    encode_response,
    frame,
    parse_response,
    request_header,
    unframe,
)
from bastion.crypto._sealed_primitives import (
    ENC_BYTES,
    InvalidTag,
    SealPrivateKey,
    aesgcm_decrypt,
    aesgcm_encrypt,
    hkdf_sha256_salted,
    hpke_open,
    hpke_seal,
)
from bastion.errors import SealedPayloadInvalid

__all__ = ["OpenedRequest", "ResponseKey", "open_request", "seal_request"]

REQUEST_INFO: Final = b"bastion-sealed/v1 request\x00"
RESPONSE_AAD: Final = b"bastion-sealed/v1 response\x00"
RESPONSE_KEY_INFO: Final = b"bastion-sealed/v1 response key"
RESPONSE_PREFIX: Final = bytes((VERSION, KIND_RESPONSE))


class ResponseKey:
    """The AES-256-GCM key for one request's response; ``repr`` never shows it."""

    __slots__ = ("_binding", "_key")

    def __init__(self, secret: bytes, enc: bytes, route: bytes) -> None:
        self._key = hkdf_sha256_salted(secret, salt=enc, info=RESPONSE_KEY_INFO)
        self._binding = route

    def __repr__(self) -> str:
        return "ResponseKey(...)"

    def _aad(self, status: int) -> bytes:
        return RESPONSE_AAD + RESPONSE_PREFIX + status.to_bytes(2, "big") + self._binding

    def seal(self, status: int, media_type: str, body: bytes) -> bytes:
        """The response envelope for ``status`` and the body with its media type."""
        if not 100 <= status <= 999:
            raise ValueError("an HTTP status is three digits")
        nonce, ciphertext = aesgcm_encrypt(self._key, frame(media_type, body), self._aad(status))
        return encode_response(nonce, ciphertext)

    def open(self, status: int, envelope: bytes) -> tuple[str, bytes]:
        """``(media_type, body)`` of a response envelope received with ``status``.

        Raises :class:`~bastion.errors.SealedPayloadInvalid` for any changed byte, another
        request's response, another route or another status (one opaque error)."""
        unverified = parse_response(envelope)
        try:
            plaintext = aesgcm_decrypt(
                self._key,
                unverified.nonce,
                unverified.ciphertext,
                self._aad(status),
            )
        except InvalidTag:
            raise SealedPayloadInvalid(reason="open_failed") from None
        return unframe(plaintext)


@dataclass(frozen=True, slots=True)
class OpenedRequest:
    """An authenticated, decrypted request body and what is needed to seal its response."""

    media_type: str
    body: bytes
    kid: str
    created: int
    enc: bytes
    response: ResponseKey = field(repr=False)
    text: bool = False


def seal_request(
    public_key: bytes,
    kid: str,
    *,
    method: str,
    target: str,
    media_type: str,
    body: bytes,
    created: int,
) -> tuple[bytes, ResponseKey]:
    """A request envelope to the server key ``kid``, and the key that opens its response."""
    secret = os.urandom(SECRET_BYTES)
    header = request_header(kid, created)
    route = binding(method, target)
    sealed = hpke_seal(public_key, secret + frame(media_type, body), REQUEST_INFO + header + route)
    return encode_request(header, sealed), ResponseKey(secret, sealed[:ENC_BYTES], route)


def open_request(
    private_key: SealPrivateKey,
    unverified: UnverifiedRequest,
    *,
    method: str,
    target: str,
    text: bool = False,
) -> OpenedRequest:
    """Open a parsed request envelope with the server key its ``kid`` names.

    Fails closed with one opaque :class:`~bastion.errors.SealedPayloadInvalid` (reason
    ``open_failed``) for any changed byte of the header, key, ciphertext or tag, and for an
    envelope sealed for another method or target."""
    route = binding(method, target)
    try:
        plaintext = hpke_open(
            private_key,
            unverified.enc + unverified.ciphertext,
            REQUEST_INFO + unverified.header + route,
        )
    except InvalidTag:
        raise SealedPayloadInvalid(reason="open_failed") from None
    if len(plaintext) <= SECRET_BYTES:
        raise SealedPayloadInvalid("The sealed frame is empty.", reason="malformed")
    media_type, body = unframe(plaintext[SECRET_BYTES:])
    return OpenedRequest(
        media_type=media_type,
        body=body,
        kid=unverified.kid,
        created=unverified.created,
        enc=unverified.enc,
        response=ResponseKey(plaintext[:SECRET_BYTES], unverified.enc, route),
        text=text,
    )
