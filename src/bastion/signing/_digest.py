"""``Content-Digest`` (RFC 9530) with ``sha-256``: what it is for a body, and the check.

Only the ``sha-256`` member is accepted, alone: a field with another algorithm (that this
side could not check) is refused rather than half-trusted.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping

from bastion.errors import InvalidSignature
from bastion.signing._sfv import Item, SfvError, parse_bytes_member, serialize_dictionary

__all__ = ["MAX_DIGEST_HEADER", "content_digest", "verify_content_digest"]

MAX_DIGEST_HEADER = 256
# What every signer writes: the one member, a 32-byte value (43 base64 characters and "=").
_SHA256_ONLY = re.compile(r"sha-256=:([A-Za-z0-9+/]{43}=):")
_EMPTY_SHA256 = hashlib.sha256()  # copied per body: cheaper than setting up a new hash


def content_digest(body: bytes) -> str:
    """The ``Content-Digest`` value of ``body``: ``sha-256=:<base64 of SHA-256>:``."""
    return serialize_dictionary({"sha-256": Item(hashlib.sha256(body).digest())})


def verify_content_digest(headers: Mapping[str, str], body: bytes) -> None:
    """Check that the ``content-digest`` header (``headers`` keyed by lower-case name) is the
    SHA-256 of ``body``. Use it upstream of a gateway, which verified the signature over the
    header but never saw the body. Constant-time comparison; raises
    :class:`~bastion.errors.InvalidSignature` (``digest_mismatch`` or ``malformed``)."""
    value = headers.get("content-digest")
    found = None if value is None else _SHA256_ONLY.fullmatch(value)
    if found is not None:  # the usual field, read in place (what _sha256_member gives)
        expected = binascii.a2b_base64(found[1], strict_mode=True)
    else:
        expected = _sha256_member(value)
    actual = _EMPTY_SHA256.copy()
    actual.update(body)
    if not hmac.compare_digest(expected, actual.digest()):
        raise InvalidSignature("digest_mismatch", "Content-Digest does not match the body.")


def _sha256_member(value: str | None) -> bytes:
    if value is None:
        raise InvalidSignature("digest_mismatch", "The Content-Digest header is missing.")
    found = _SHA256_ONLY.fullmatch(value)
    if found is not None:  # what the general reading gives for it (property-tested)
        return binascii.a2b_base64(found[1], strict_mode=True)  # = b64decode(validate=True)
    return _general_sha256_member(value)


def _general_sha256_member(value: str) -> bytes:
    if len(value) > MAX_DIGEST_HEADER:
        raise InvalidSignature("malformed", "The Content-Digest header is too long.")
    try:
        members = parse_bytes_member(value)
    except SfvError:
        raise InvalidSignature("malformed", "The Content-Digest header does not parse.") from None
    member = members.get("sha-256")
    if (
        len(members) != 1
        or not isinstance(member, Item)
        or not isinstance(member.value, bytes)
        or member.params
        or len(member.value) != hashlib.sha256().digest_size
    ):
        raise InvalidSignature("malformed", "Content-Digest must hold one sha-256 member.")
    return member.value
