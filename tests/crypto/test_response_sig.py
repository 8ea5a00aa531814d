"""Ed25519 response signatures: what is covered, what is refused (ASVS V11.6.1, V11.4.3)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.crypto import MasterKey, Sealing, verify_response
from bastion.crypto._response_sig import canonical_response
from bastion.errors import ResponseSignatureInvalid
from bastion.infra import ManualClock
from tests.crypto.test_sealed import make_sealing

RESPONSE: dict[str, Any] = {
    "status": 200,
    "content_type": "application/json",
    "body": b'{"balance": 10}',
    "method": "GET",
    "target": "/api/wallet?currency=CNY",
    "request_id": "req-12345678",
}


@pytest.fixture
def sealing(clock: ManualClock) -> Sealing:
    return make_sealing(clock)[0]


def _signed(sealing: Sealing, **changes: Any) -> dict[str, str]:
    fields = {**RESPONSE, **changes}
    value = sealing.sign_response(**fields)
    return {
        "Content-Type": fields["content_type"],
        "X-Request-ID": fields["request_id"],
        "Bastion-Response-Signature": value,
    }


def _verify(sealing: Sealing, headers: dict[str, str], now: float | None = None, **changes: Any):
    fields = {**RESPONSE, **changes}
    return verify_response(
        sealing.document(),
        status=fields["status"],
        headers=headers,
        body=fields["body"],
        method=fields["method"],
        target=fields["target"],
        request_id=changes.get("request_id"),
        now=now,
    )


def test_round_trip(sealing: Sealing, clock: ManualClock) -> None:
    headers = _signed(sealing)
    kid = _verify(sealing, headers, now=clock.now())
    assert kid == sealing.document()["keys"][1]["kid"] and kid.startswith("sig1-")


@pytest.mark.parametrize(
    "change",
    [
        {"status": 201},
        {"body": b'{"balance": 11}'},
        {"method": "POST"},
        {"target": "/api/wallet?currency=USD"},
        {"target": "/api/wallet"},
        {"request_id": "req-87654321"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_every_covered_field_is_bound(sealing: Sealing, change: dict[str, Any]) -> None:
    headers = _signed(sealing)
    with pytest.raises(ResponseSignatureInvalid):
        _verify(sealing, headers, **change)


def test_content_type_is_covered(sealing: Sealing) -> None:
    headers = _signed(sealing)
    headers["Content-Type"] = "text/html"
    with pytest.raises(ResponseSignatureInvalid):
        _verify(sealing, headers)


def test_request_id_defaults_to_the_response_header(sealing: Sealing) -> None:
    headers = _signed(sealing)
    assert _verify(sealing, headers)
    headers["X-Request-ID"] = "req-other-1"
    with pytest.raises(ResponseSignatureInvalid):
        _verify(sealing, headers)


def test_every_signature_character_is_checked(sealing: Sealing) -> None:
    headers = _signed(sealing)
    value = headers["Bastion-Response-Signature"]
    for position in range(len(value)):
        swapped = "A" if value[position] != "A" else "B"
        forged = value[:position] + swapped + value[position + 1 :]
        with pytest.raises(ResponseSignatureInvalid):
            _verify(sealing, {**headers, "Bastion-Response-Signature": forged})


def test_stale_and_future_signatures(sealing: Sealing, clock: ManualClock) -> None:
    headers = _signed(sealing)
    assert _verify(sealing, headers, now=clock.now() + 300)
    for now in (clock.now() + 301, clock.now() - 301):
        with pytest.raises(ResponseSignatureInvalid, match="stale"):
            _verify(sealing, headers, now=now)


def test_another_servers_key_and_missing_header(sealing: Sealing, clock: ManualClock) -> None:
    stranger, _ = make_sealing(clock, MasterKey(b"\x09" * 32))
    with pytest.raises(ResponseSignatureInvalid, match="not in the document"):
        _verify(sealing, _signed(stranger))
    with pytest.raises(ResponseSignatureInvalid, match="missing"):
        _verify(sealing, {"Content-Type": "application/json"})
    with pytest.raises(ResponseSignatureInvalid):
        verify_response(
            {"keys": []},
            headers=_signed(sealing),
            **{k: RESPONSE[k] for k in ("status", "body", "method", "target")},
        )


def test_rollover_previous_key_still_verifies(clock: ManualClock) -> None:
    old, _ = make_sealing(clock)
    rolled, _ = make_sealing(clock, key_generation=2)
    headers = _signed(old)
    assert _verify(rolled, headers).startswith("sig1-")
    assert _verify(rolled, _signed(rolled)).startswith("sig2-")


def test_canonical_form_refuses_line_breaks() -> None:
    fields = {**RESPONSE, "kid": "sig1-x", "created": 1}
    assert canonical_response(**fields).count(b"\n") == 8
    with pytest.raises(ValueError):
        canonical_response(**{**fields, "target": "/a\nb"})


@given(st.text(max_size=200))
def test_verify_raises_only_the_documented_error(value: str) -> None:
    clock = ManualClock()
    sealing, _ = make_sealing(clock)
    headers = {"Bastion-Response-Signature": value, "Content-Type": "application/json"}
    with pytest.raises(ResponseSignatureInvalid):
        _verify(sealing, headers)
