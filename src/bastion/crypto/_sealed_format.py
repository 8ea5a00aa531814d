"""The sealed envelope, byte by byte (``docs/sealed.md``): parsing and encoding, no keys.

Request envelope (version 1)::

    0      1   version        0x01
    1      1   kind           0x01 (request)
    2      1   kid length n   1..32
    3      n   kid            ASCII [A-Za-z0-9_-]
    3+n    8   created        unsigned big-endian Unix seconds
    11+n   32  enc            the HPKE encapsulated key (ephemeral X25519 public key)
    43+n   ..  ciphertext     HPKE ciphertext with its 16-byte tag (at least 16 + 33 bytes)

Response envelope (version 1)::

    0      1   version        0x01
    1      1   kind           0x02 (response)
    2      12  nonce          AES-256-GCM nonce
    14     ..  ciphertext     AES-256-GCM ciphertext with its 16-byte tag (at least 16 + 1)

The plaintext of either is a *frame*: one byte ``m``, ``m`` bytes of media type (printable
ASCII), then the body; a request frame is preceded by the client's 32-byte response secret.

Everything parsed here is ``unverified``: nothing in it is authentic until it opens. Every
failure raises :class:`~bastion.errors.SealedPayloadInvalid` (or its
:class:`~bastion.errors.SealedVersionUnsupported`); nothing else escapes on any input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from bastion.errors import SealedPayloadInvalid, SealedPayloadRequired, SealedVersionUnsupported

__all__ = [
    "MEDIA_TYPE",
    "SECRET_BYTES",
    "UnverifiedRequest",
    "UnverifiedResponse",
    "binding",
    "decode_transport",
    "encode_request",
    "encode_response",
    "encode_transport",
    "frame",
    "parse_request",
    "parse_response",
    "request_header",
    "unframe",
]

VERSION: Final = 1
KIND_REQUEST: Final = 0x01
KIND_RESPONSE: Final = 0x02
ENC_BYTES: Final = 32
TAG_BYTES: Final = 16
NONCE_BYTES: Final = 12
SECRET_BYTES: Final = 32
MAX_KID: Final = 32
MEDIA_TYPE: Final = "application/bastion-sealed"
TEXT_PARAMETER: Final = "encoding=base64url"
_KID: Final = re.compile(rb"^[A-Za-z0-9_-]{1,32}\Z")
_B64URL: Final = re.compile(rb"^[A-Za-z0-9_-]*\Z")
_MEDIA: Final = re.compile(rb"^[\x21-\x7e][\x20-\x7e]{0,254}\Z")


@dataclass(frozen=True, slots=True)
class UnverifiedRequest:
    """A parsed request envelope whose contents are not yet authenticated."""

    header: bytes
    kid: str
    created: int
    enc: bytes
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class UnverifiedResponse:
    header: bytes
    nonce: bytes
    ciphertext: bytes


def _malformed(detail: str) -> SealedPayloadInvalid:
    return SealedPayloadInvalid(detail, reason="malformed")


def _check_start(data: bytes, kind: int) -> None:
    if len(data) < 2:
        raise _malformed("The sealed envelope is truncated.")
    if data[0] != VERSION:
        raise SealedVersionUnsupported
    if data[1] != kind:
        raise _malformed("The sealed envelope is not of the expected kind.")


def request_header(kid: str, created: int) -> bytes:
    """The authenticated header of a request envelope (everything before ``enc``)."""
    raw = kid.encode("ascii")
    if not _KID.match(raw):
        raise ValueError("a kid is 1-32 characters of [A-Za-z0-9_-]")
    return bytes((VERSION, KIND_REQUEST, len(raw))) + raw + created.to_bytes(8, "big")


def encode_request(header: bytes, sealed: bytes) -> bytes:
    """``header || enc || ciphertext`` (``sealed`` is HPKE's ``enc || ciphertext``)."""
    return header + sealed


def parse_request(data: bytes) -> UnverifiedRequest:
    """Split a request envelope into its fields; checks lengths and the kid's alphabet only."""
    _check_start(data, KIND_REQUEST)
    if len(data) < 3 or not 1 <= data[2] <= MAX_KID:
        raise _malformed("The sealed envelope's key id is missing or too long.")
    n = data[2]
    end = 3 + n + 8
    if len(data) < end + ENC_BYTES + TAG_BYTES + SECRET_BYTES + 1:
        raise _malformed("The sealed envelope is truncated.")
    kid = data[3 : 3 + n]
    if not _KID.match(kid):
        raise _malformed("The sealed envelope's key id is not valid.")
    return UnverifiedRequest(
        header=data[:end],
        kid=kid.decode("ascii"),
        created=int.from_bytes(data[3 + n : end], "big"),
        enc=data[end : end + ENC_BYTES],
        ciphertext=data[end + ENC_BYTES :],
    )


def encode_response(nonce: bytes, ciphertext: bytes) -> bytes:
    return bytes((VERSION, KIND_RESPONSE)) + nonce + ciphertext


def parse_response(data: bytes) -> UnverifiedResponse:
    _check_start(data, KIND_RESPONSE)
    if len(data) < 2 + NONCE_BYTES + TAG_BYTES + 1:
        raise _malformed("The sealed envelope is truncated.")
    end = 2 + NONCE_BYTES
    return UnverifiedResponse(header=data[:end], nonce=data[2:end], ciphertext=data[end:])


def frame(media_type: str, body: bytes) -> bytes:
    """``len(media_type) || media_type || body``; the media type is printable ASCII."""
    raw = media_type.encode("ascii", "replace")
    if not media_type.isascii() or not _MEDIA.match(raw):
        raise ValueError("a sealed media type is 1-255 printable ASCII characters")
    return bytes((len(raw),)) + raw + body


def unframe(data: bytes) -> tuple[str, bytes]:
    """``(media_type, body)`` of an authenticated frame (a malformed one is still refused)."""
    if not data:
        raise _malformed("The sealed frame is empty.")
    end = 1 + data[0]
    media = data[1:end]
    if len(media) != data[0] or not _MEDIA.match(media):
        raise _malformed("The sealed frame's media type is not valid.")
    return media.decode("ascii"), data[end:]


def binding(method: str, target: str) -> bytes:
    """SHA-256 of ``METHOD SP target``: ties an envelope to one route (the request line)."""
    line = method.upper().encode("ascii", "replace") + b" " + target.encode("utf-8", "replace")
    return hashlib.sha256(line).digest()


def decode_transport(body: bytes, content_type: str | None) -> tuple[bytes, bool]:
    """The binary envelope from a request body, and whether it came in the text form.

    ``application/bastion-sealed``: the body is the envelope. With the parameter
    ``encoding=base64url``: the body is its unpadded, canonical base64url text.
    Any other media type raises :class:`~bastion.errors.SealedPayloadRequired`."""
    media, *params = (p.strip().lower() for p in (content_type or "").split(";"))
    if media != MEDIA_TYPE:
        raise SealedPayloadRequired
    if not params:
        return body, False
    if params != [TEXT_PARAMETER]:
        raise _malformed("The only sealed-body parameter is encoding=base64url.")
    return _b64url_decode(body.strip()), True


def encode_transport(envelope: bytes, text: bool) -> tuple[bytes, str]:
    """``(body, content_type)`` for an envelope in the binary or text form."""
    if not text:
        return envelope, MEDIA_TYPE
    encoded = base64.urlsafe_b64encode(envelope).rstrip(b"=")
    return encoded, f"{MEDIA_TYPE}; {TEXT_PARAMETER}"


def _b64url_decode(text: bytes) -> bytes:
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise _malformed("The sealed body is not base64url text.")
    try:
        raw = base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _malformed("The sealed body is not base64url text.") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != text:
        raise _malformed("The sealed body is not canonical base64url text.")
    return raw
