"""Second factors: TOTP (RFC 6238) and single-use recovery codes.

Pure functions with no storage: the caller keeps the sealed TOTP secret, the last accepted time
step and the recovery-code hashes. Guarantees:

- every secret comes from the operating system CSPRNG (:mod:`secrets`);
- TOTP codes use 30 s steps and 6 digits, accept ``±drift_steps`` of clock drift, and are
  compared in constant time against every candidate step (no early exit);
- a TOTP code is usable once: a step at or before the last accepted one is refused;
- recovery codes carry 120 random bits, so a keyed fast hash (HMAC-SHA256 under a purpose
  subkey) is an approved way to store them (ASVS V6.5.2: 112 bits or more);
- every failure is the single opaque :class:`InvalidCode`: wrong, expired, replayed and
  malformed codes are indistinguishable to the client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

import pyotp

from bastion.errors import AuthenticationFailed

__all__ = [
    "RECOVERY_CODE_BITS",
    "TOTP_DIGITS",
    "TOTP_STEP_SECONDS",
    "InvalidCode",
    "hash_recovery_code",
    "match_recovery_code",
    "new_recovery_codes",
    "new_totp_secret",
    "normalise_recovery_code",
    "provisioning_uri",
    "verify_totp",
]

TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
TOTP_SECRET_BYTES = 20  # 160 bits, the RFC 4226 recommendation and what authenticator apps expect
RECOVERY_CODE_BITS = 120
_RECOVERY_BYTES = RECOVERY_CODE_BITS // 8  # 15 bytes -> exactly 24 base32 characters, no padding
_RECOVERY_CHARS = 24
_RECOVERY_GROUP = 4
_BASE32 = frozenset("abcdefghijklmnopqrstuvwxyz234567")
_DIGITS = frozenset("0123456789")
_MAX_INPUT = 128  # longer input is refused before any processing
_MIN_KEY_BYTES = 16


class InvalidCode(AuthenticationFailed):
    """A TOTP or recovery code was wrong, expired, already used or malformed (one opaque error)."""

    type = "invalid-mfa-code"
    title = "Invalid verification code"
    default_detail = "The verification code is incorrect, expired or already used."

    def __init__(self) -> None:
        super().__init__(None)


def new_totp_secret() -> str:
    """A fresh TOTP seed: 160 bits from the CSPRNG, base32 without padding (32 characters)."""
    return base64.b32encode(secrets.token_bytes(TOTP_SECRET_BYTES)).decode("ascii")


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI (QR code content) for an authenticator app.

    SHA-1, 6 digits and 30 s steps are the Key URI format defaults, which every authenticator
    app implements; pyotp leaves the default parameters out of the URI.
    """
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS, digest=hashlib.sha1)
    return str(totp.provisioning_uri(name=account, issuer_name=issuer))


def verify_totp(secret: str, code: str, *, now: float, last_step: int, drift_steps: int = 1) -> int:
    """Check a 6-digit TOTP ``code`` at server time ``now`` and return the matched time step.

    Spaces inside ``code`` are ignored. The code is compared in constant time against the codes
    of every step in ``now ± drift_steps`` (all of them, no early exit). The caller stores the
    returned step as the new ``last_step``: a code whose step is ``<= last_step`` is refused,
    so each code is accepted once and an older code never after a newer one (ASVS V6.5.1).

    Raises :class:`InvalidCode` when the code is malformed (checked before any HMAC is
    computed), matches no step, or was already used. Fails closed: a negative ``drift_steps``
    accepts nothing. A stored ``secret`` that is not base32 raises :class:`ValueError`.
    """
    digits = _compact(code)
    if len(digits) != TOTP_DIGITS or not set(digits) <= _DIGITS:
        raise InvalidCode
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS, digest=hashlib.sha1)
    current = int(now // TOTP_STEP_SECONDS)
    given = digits.encode("ascii")
    matched: int | None = None
    for step in range(current - drift_steps, current + drift_steps + 1):
        if step < 0:
            continue
        expected = str(totp.generate_otp(step)).encode("ascii")
        if hmac.compare_digest(expected, given):
            matched = step  # keep going: the work does not depend on which step matched
    if matched is None or matched <= last_step:
        raise InvalidCode
    return matched


def new_recovery_codes(count: int = 10) -> list[str]:
    """``count`` fresh recovery codes, each 120 bits from the CSPRNG, shown to the user once.

    Format: 6 groups of 4 lowercase base32 characters joined by ``-``, such as
    ``abcd-efgh-ijkl-mnop-qrst-uvwx``. Store only :func:`hash_recovery_code` of each.
    """
    codes = []
    for _ in range(count):
        raw = base64.b32encode(secrets.token_bytes(_RECOVERY_BYTES)).decode("ascii").lower()
        groups = [raw[i : i + _RECOVERY_GROUP] for i in range(0, _RECOVERY_CHARS, _RECOVERY_GROUP)]
        codes.append("-".join(groups))
    return codes


def normalise_recovery_code(code: str) -> str:
    """The canonical form of a typed recovery code: no spaces or dashes, lowercase.

    Raises :class:`InvalidCode` unless the result is exactly 24 base32 characters; never any
    other exception, whatever the text.
    """
    if len(code) > _MAX_INPUT:
        raise InvalidCode
    compact = _compact(code).replace("-", "").lower()
    if len(compact) != _RECOVERY_CHARS or not set(compact) <= _BASE32:
        raise InvalidCode
    return compact


def hash_recovery_code(code: str, key: bytes) -> str:
    """Hex HMAC-SHA256 of the normalised code under ``key``, the purpose subkey from
    ``MasterKey.derive("bastion/recovery-code/v1")``. No plaintext at rest, and the stored
    hashes are useless without the master key.

    Raises :class:`InvalidCode` for a malformed code and :class:`ValueError` for a key shorter
    than 16 bytes (a programming error).
    """
    if len(key) < _MIN_KEY_BYTES:
        raise ValueError("the recovery-code key must be a derived subkey (at least 16 bytes)")
    return hmac.new(key, normalise_recovery_code(code).encode("ascii"), hashlib.sha256).hexdigest()


def match_recovery_code(code: str, hashes: Sequence[str], key: bytes) -> int | None:
    """The index in ``hashes`` (the user's unused codes) that ``code`` matches, else None.

    Compares with :func:`hmac.compare_digest` against every hash, with no early exit. The caller
    marks the matched code used in the same transaction that accepts it (single use, V6.5.1).
    Raises :class:`InvalidCode` for a malformed code (it could never match).
    """
    digest = hash_recovery_code(code, key).encode("ascii")
    found: int | None = None
    for index, stored in enumerate(hashes):
        if hmac.compare_digest(digest, stored.encode("utf-8")) and found is None:
            found = index
    return found


def _compact(text: str) -> str:
    """``text`` without whitespace; over-long input is refused before any work."""
    if len(text) > _MAX_INPUT:
        raise InvalidCode
    return "".join(text.split())
