"""Outgoing webhook signatures: ``Bastion-Signature: t=<unix time>,v1=<hex HMAC-SHA256>``.

The MAC covers ``b"<t>." + body`` under the endpoint's shared secret. A receiver checks that
``t`` is within a tolerance of its clock and that one ``v1`` value matches; during a secret
rotation the sender puts one ``v1`` per live secret in the header, and the receiver may hold
several secrets too. Every candidate is compared (constant time, no early exit).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence

from bastion.errors import InvalidWebhookSignature

__all__ = ["WEBHOOK_HEADER", "sign_webhook", "verify_webhook"]

WEBHOOK_HEADER = "Bastion-Signature"
MAX_HEADER = 1024
MAX_SIGNATURES = 8
_TIME = re.compile(r"^[0-9]{1,12}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


def _mac(secret: bytes, timestamp: int, body: bytes) -> bytes:
    return hmac.digest(secret, str(timestamp).encode("ascii") + b"." + body, "sha256")


def sign_webhook(secret: bytes | Sequence[bytes], body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp`` (Unix seconds): ``t=…,v1=…``, with
    one ``v1`` per secret when given several (newest first, during a rotation)."""
    secrets = [secret] if isinstance(secret, bytes) else list(secret)
    if not secrets or any(len(s) < 32 for s in secrets):
        raise ValueError("webhook secrets must be at least 32 bytes")
    macs = [f"v1={_mac(s, timestamp, body).hex()}" for s in secrets]
    return ",".join([f"t={int(timestamp)}", *macs])


def _parse(header: str | None) -> tuple[int, list[bytes]]:
    if not header:
        raise InvalidWebhookSignature("missing", "The signature header is missing.")
    if len(header) > MAX_HEADER:
        raise InvalidWebhookSignature("malformed", "The signature header is too long.")
    times: list[int] = []
    macs: list[bytes] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and _TIME.match(value):
            times.append(int(value))
        elif name == "v1" and _HEX.match(value):
            macs.append(bytes.fromhex(value))
        elif name in ("t", "v1"):
            raise InvalidWebhookSignature("malformed", "A t or v1 value is malformed.")
        # other schemes (v0, later versions) are ignored, as the format intends
    if len(times) != 1 or not macs or len(macs) > MAX_SIGNATURES:
        raise InvalidWebhookSignature("malformed", "Expected one t=<unix time> and 1-8 v1.")
    return times[0], macs


def verify_webhook(
    secret: bytes | Sequence[bytes],
    header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: int = 300,
) -> int:
    """Check a webhook's signature header against the raw ``body``; returns its timestamp.

    Accepts when ``|now - t| <= tolerance`` and any ``v1`` equals the MAC under any of the
    secrets; every pair is compared with :func:`hmac.compare_digest`, without early exit.
    Raises :class:`~bastion.errors.InvalidWebhookSignature` (``missing``, ``malformed``,
    ``stale`` or ``bad_signature``); the message never holds an expected value. Remember
    accepted (timestamp, MAC) pairs for ``tolerance`` seconds if replays matter to you."""
    timestamp, macs = _parse(header)
    if abs(now - timestamp) > tolerance:
        raise InvalidWebhookSignature("stale", "The webhook timestamp is outside the tolerance.")
    secrets = [secret] if isinstance(secret, bytes) else list(secret)
    ok = False
    for key in secrets:
        expected = _mac(key, timestamp, body)
        for mac in macs:
            ok |= hmac.compare_digest(expected, mac)
    if not ok:
        raise InvalidWebhookSignature("bad_signature", "The webhook signature does not verify.")
    return timestamp
