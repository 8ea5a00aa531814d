"""Ed25519 signature verification over raw keys, and Telegram's published verification keys.

Only this module (inside ``bastion.crypto``) touches ``cryptography.hazmat`` for Ed25519.
"""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "ED25519_PUBLIC_KEY_BYTES",
    "ED25519_SIGNATURE_BYTES",
    "TELEGRAM_PRODUCTION_PUBLIC_KEY",
    "TELEGRAM_TEST_PUBLIC_KEY",
    "ed25519_verify",
]

ED25519_PUBLIC_KEY_BYTES: Final = 32
ED25519_SIGNATURE_BYTES: Final = 64

# Telegram's Ed25519 keys for third-party initData validation (one per environment, shared by
# every bot). Source: https://core.telegram.org/bots/webapps, "Validating data for Third-Party
# Use" (mirrored in MarshalX/telegram-crawler data/web/core.telegram.org/bots/webapps.html).
# The production key verifies real Telegram output (shared vector T4).
TELEGRAM_PRODUCTION_PUBLIC_KEY: Final = bytes.fromhex(
    "e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d"
)
TELEGRAM_TEST_PUBLIC_KEY: Final = bytes.fromhex(
    "40055058a4ee38156a06562e52eece92a771bcd8346a8c4615cb7376eddf72ec"
)


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 (RFC 8032, pure) signature of ``message``.

    ``public_key`` is the 32-byte raw encoding. Any signature that is not exactly 64 bytes, or
    that OpenSSL rejects (including a non-canonical ``S``), gives ``False``; this never raises
    for attacker-controlled ``signature``/``message``. A public key of the wrong length is a
    programming or configuration error and raises ``ValueError``.
    """
    if len(public_key) != ED25519_PUBLIC_KEY_BYTES:
        raise ValueError("an Ed25519 public key is 32 raw bytes")
    if len(signature) != ED25519_SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True
