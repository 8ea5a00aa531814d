"""The API key format: ``bst_<env>_<id>_<secret><check>``, generated and parsed.

* ``env``: 1-16 lowercase letters or digits (``live``, ``test``), so a key says where it works;
* ``id``: the key's row id, 32 lowercase hex characters (128 random bits, not secret);
* ``secret``: 32 bytes (256 bits) from the OS CSPRNG, base62, always 43 characters;
* ``check``: CRC-32 (``zlib.crc32``) of everything before it (``bst_<env>_<id>_<secret>``),
  base62, always 6 characters.

Every part has a fixed alphabet and (except ``env``) a fixed width, so a secret scanner can match
``bst_[a-z0-9]{1,16}_[0-9a-f]{32}_[0-9A-Za-z]{49}`` and confirm the checksum offline. CRC-32
detects every error burst of up to 32 bits: any single changed character (and any swap of two
neighbours) is rejected by :func:`parse_key` without a lookup. The checksum is not a secret and
proves nothing about authenticity; only the HMAC of the stored hash does.
"""

from __future__ import annotations

import re
import secrets
import zlib
from dataclasses import dataclass

from bastion.errors import InvalidToken

__all__ = ["ParsedKey", "generate_key", "parse_key"]

PREFIX = "bst"
SECRET_BYTES = 32
SECRET_CHARS = 43  # 62**43 > 2**256
CHECK_CHARS = 6  # 62**6 > 2**32
MAX_KEY_CHARS = 128
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
ENV_PATTERN = re.compile(r"[a-z0-9]{1,16}")
ID_PATTERN = re.compile(r"[0-9a-f]{32}")
_KEY = re.compile(
    r"(bst_([a-z0-9]{1,16})_([0-9a-f]{32})_[0-9A-Za-z]{43})([0-9A-Za-z]{6})", re.ASCII
)


def b62encode(value: int, width: int) -> str:
    """``value`` in base62, left-padded with ``0`` to exactly ``width`` characters."""
    out = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        out.append(ALPHABET[digit])
    if value:
        raise ValueError("value does not fit the width")
    return "".join(reversed(out))


def b62decode(text: str) -> int:
    value = 0
    for ch in text:
        value = value * 62 + _INDEX[ch]
    return value


def checksum(body: str) -> str:
    """The 6-character check suffix of ``body``."""
    return b62encode(zlib.crc32(body.encode("ascii")), CHECK_CHARS)


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """A key whose shape and checksum are right, but whose secret is not verified yet."""

    unverified_env: str
    unverified_id: str
    unverified_body: str  # ``bst_<env>_<id>_<secret>``: what the stored HMAC covers

    def __repr__(self) -> str:  # never show the secret
        return f"ParsedKey(env={self.unverified_env!r}, id={self.unverified_id!r})"


def generate_key(env: str, key_id: str) -> str:
    """A new full key for ``env`` and ``key_id`` with a fresh 256-bit secret.

    Raises :class:`ValueError` when ``env`` or ``key_id`` does not fit the format."""
    if not ENV_PATTERN.fullmatch(env) or not ID_PATTERN.fullmatch(key_id):
        raise ValueError("env must be 1-16 of [a-z0-9] and the id 32 lowercase hex digits")
    secret = b62encode(int.from_bytes(secrets.token_bytes(SECRET_BYTES), "big"), SECRET_CHARS)
    body = f"{PREFIX}_{env}_{key_id}_{secret}"
    return body + checksum(body)


def parse_key(text: str) -> ParsedKey:
    """Check the shape and the CRC-32 of ``text`` (no lookup, no secret comparison).

    Raises :class:`InvalidToken` (reason ``malformed`` or ``checksum``) and nothing else, for
    any input string."""
    if len(text) > MAX_KEY_CHARS:
        raise InvalidToken(reason="malformed")
    match = _KEY.fullmatch(text)
    if match is None:
        raise InvalidToken(reason="malformed")
    body, env, key_id, check = match.groups()
    if b62decode(check) != zlib.crc32(body.encode("ascii")):
        raise InvalidToken(reason="checksum")
    return ParsedKey(unverified_env=env, unverified_id=key_id, unverified_body=body)
