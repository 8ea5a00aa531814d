"""The envelope ciphertext format, version 1, and the associated data that binds a value to its
place. Pure functions over bytes: no keys here.

::

    offset  size  field
    0       1     format version: 0x01
    1       4     KEK version (unsigned, big-endian) that wrapped the DEK when this was written
    5       16    DEK id (random)
    21      12    nonce (random, 96 bits)
    33      n     AES-256-GCM ciphertext (n = plaintext length)
    33+n    16    GCM tag

The associated data of the GCM call is::

    b"bastion/envelope/v1\\x00" || header bytes 0..20
      || u16 len(subject) || subject (UTF-8) || u16 len(context) || context (UTF-8)

so a changed header byte, a value moved to another subject, record or field, or a value
from another DEK fails the tag check. Lengths are prefixed, so no two (subject, context)
pairs give the same bytes.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from bastion.errors import InvalidInput, MalformedCiphertext

__all__ = [
    "DOMAIN",
    "FORMAT_V1",
    "HEADER_BYTES",
    "MAX_CONTEXT_BYTES",
    "NONCE_BYTES",
    "OVERHEAD",
    "UnverifiedEnvelope",
    "context_part",
    "header",
    "parse_unverified",
    "purpose_of",
    "subject_part",
]

FORMAT_V1 = 1
DEK_ID_BYTES = 16
HEADER_BYTES = 1 + 4 + DEK_ID_BYTES
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
DOMAIN = b"bastion/envelope/v1\x00"
MAX_CONTEXT_BYTES = 512
MAX_PURPOSE_CHARS = 128
_HEADER = struct.Struct(">BI16s")
_SUBJECT = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True, slots=True)
class UnverifiedEnvelope:
    """The parts of a ciphertext, parsed but NOT authenticated: trust nothing here until the
    GCM tag has been checked."""

    kek_version: int
    dek_id: bytes
    header: bytes
    nonce: bytes
    body: bytes


def header(kek_version: int, dek_id: bytes) -> bytes:
    """The 21 header bytes for a value written under ``dek_id``."""
    return _HEADER.pack(FORMAT_V1, kek_version, dek_id)


def parse_unverified(blob: bytes) -> UnverifiedEnvelope:
    """Split a ciphertext into its parts without authenticating it.

    Raises :class:`MalformedCiphertext` (and nothing else) for anything that is not bytes,
    shorter than the 49-byte minimum, or of an unknown format version.
    """
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise MalformedCiphertext
    blob = bytes(blob)
    if len(blob) < OVERHEAD:
        raise MalformedCiphertext
    version, kek_version, dek_id = _HEADER.unpack_from(blob)
    if version != FORMAT_V1:
        raise MalformedCiphertext
    return UnverifiedEnvelope(
        kek_version=kek_version,
        dek_id=dek_id,
        header=blob[:HEADER_BYTES],
        nonce=blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES],
        body=blob[HEADER_BYTES + NONCE_BYTES :],
    )


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(errors=[{"field": field, "code": "invalid", "message": message}])


def subject_part(subject: str) -> bytes:
    """The length-prefixed subject for the associated data; refuses a malformed subject.

    A subject is an identifier (a user id, say), 1-64 characters of ``A-Z a-z 0-9 . _ : -``:
    never a personal identifier such as an e-mail address, because it is written to the
    audit log when the subject is shredded.
    """
    if not isinstance(subject, str) or not _SUBJECT.match(subject):
        raise _invalid("subject", "1-64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'")
    raw = subject.encode("ascii")
    return len(raw).to_bytes(2, "big") + raw


def context_part(context: str) -> bytes:
    """The length-prefixed context for the associated data; 1-512 UTF-8 bytes."""
    if not isinstance(context, str):
        raise _invalid("context", "the context must be a string")
    raw = context.encode("utf-8", "strict")
    if not raw or len(raw) > MAX_CONTEXT_BYTES:
        raise _invalid("context", f"the context must be 1-{MAX_CONTEXT_BYTES} UTF-8 bytes")
    return len(raw).to_bytes(2, "big") + raw


def purpose_of(context: str) -> str:
    """The purpose a context names: the text before its first ``:`` (``"vault"`` for
    ``"vault:phone:<id>"``, ``"users.phone"`` for ``"users.phone:42"``). Each subject has its
    own data keys per purpose."""
    purpose = context.partition(":")[0]
    if not purpose or len(purpose) > MAX_PURPOSE_CHARS:
        raise _invalid("context", "the context must start with a purpose of 1-128 characters")
    return purpose
