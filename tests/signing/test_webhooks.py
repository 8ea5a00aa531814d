"""Signed webhooks: ``t=…,v1=…`` with a tolerance, several v1 values (rotation), refusals."""

from __future__ import annotations

import pytest

from bastion.errors import InvalidWebhookSignature
from bastion.signing import sign_webhook, verify_webhook

OLD, NEW = b"o" * 32, b"n" * 32
BODY = b'{"event":"order.paid"}'
T = 1_750_000_000


def _reason(header: str | None, body: bytes = BODY, now: float = T, **kw: object) -> str:
    with pytest.raises(InvalidWebhookSignature) as caught:
        verify_webhook(NEW, header, body, now=now, **kw)  # type: ignore[arg-type]
    assert caught.value.reason not in ("", None)
    return caught.value.reason


def test_round_trip_and_format() -> None:
    header = sign_webhook(NEW, BODY, T)
    assert header.startswith(f"t={T},v1=") and len(header.split("v1=")[1]) == 64
    assert verify_webhook(NEW, header, BODY, now=T + 300) == T


def test_rotation_both_sides() -> None:
    both = sign_webhook([NEW, OLD], BODY, T)
    assert verify_webhook(OLD, both, BODY, now=T) == T
    assert verify_webhook(NEW, both, BODY, now=T) == T
    assert verify_webhook([NEW, OLD], sign_webhook(OLD, BODY, T), BODY, now=T) == T


@pytest.mark.parametrize("now", [T - 301, T + 301])
def test_outside_tolerance_is_stale(now: int) -> None:
    assert _reason(sign_webhook(NEW, BODY, T), now=now) == "stale"


def test_tamper_and_wrong_secret() -> None:
    header = sign_webhook(NEW, BODY, T)
    assert _reason(header, body=BODY + b" ") == "bad_signature"
    assert _reason(header.replace(f"t={T}", f"t={T + 1}")) == "bad_signature"
    assert _reason(sign_webhook(OLD, BODY, T)) == "bad_signature"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("v1=" + "0" * 64, "malformed"),
        (f"t={T}", "malformed"),
        (f"t={T},t={T},v1=" + "0" * 64, "malformed"),
        ("t=abc,v1=" + "0" * 64, "malformed"),
        (f"t={T},v1=" + "0" * 63, "malformed"),
        (f"t={T},v1=" + "G" * 64, "malformed"),
        (f"t={T}," + ",".join(["v1=" + "0" * 64] * 9), "malformed"),
        ("t=1," + "x" * 2000, "malformed"),
    ],
)
def test_malformed_headers(header: str | None, reason: str) -> None:
    assert _reason(header) == reason


def test_unknown_schemes_are_ignored() -> None:
    header = sign_webhook(NEW, BODY, T) + ",v0=whatever"
    assert verify_webhook(NEW, header, BODY, now=T) == T


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        sign_webhook(b"short", BODY, T)
