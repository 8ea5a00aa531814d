"""What a new key may look like: every bad field is named at once, scopes are required."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.apikeys._rules import check_new_key
from bastion.errors import InvalidInput

GOOD: dict[str, Any] = {
    "owner_user_id": None,
    "owner_service": "ci",
    "env": "live",
    "expires_in": None,
    "rate": None,
    "ip_allow": (),
    "description": "",
}


def test_good_input_is_normalised() -> None:
    values = check_new_key(
        "ci",
        ["read", "write", "read"],
        **{**GOOD, "ip_allow": ["10.1.2.3/8", " 10.0.0.0/8", "2001:db8::1"], "rate": "5/s"},
    )
    assert values["scopes"] == "read write"
    assert values["ip_allow"] == "10.0.0.0/8 2001:db8::1/128"
    assert values["rate"] == "5/s"


def test_every_bad_field_is_reported() -> None:
    """ASVS V8.2.1 (by analogy): no key without explicit scopes; exactly one owner."""
    with pytest.raises(InvalidInput) as caught:
        check_new_key(
            "",
            [],
            owner_user_id="u",
            owner_service="s",
            env="LIVE",
            expires_in=0,
            rate="100 per minute",
            ip_allow=["nope"],
            description="x" * 1025,
        )
    fields = {e["field"] for e in caught.value.extra["errors"]}
    assert fields == {
        "name",
        "scopes",
        "owner",
        "env",
        "expires_in",
        "rate",
        "ip_allow",
        "description",
    }


@pytest.mark.parametrize("rate", ["100/min", "30/5min", "10/s burst 50", "5000/day", "1/hour"])
def test_rates_in_the_rate_limiter_grammar_are_kept(rate: str) -> None:
    assert check_new_key("ci", ["read"], **{**GOOD, "rate": rate})["rate"] == rate


@pytest.mark.parametrize("rate", ["0/s", "10/fortnight", "10/s burst", "ten/s", "-1/min", ""])
def test_other_rates_are_refused(rate: str) -> None:
    with pytest.raises(InvalidInput):
        check_new_key("ci", ["read"], **{**GOOD, "rate": rate})


@pytest.mark.parametrize("scope", ["", "has space", "x" * 65, "é"])
def test_bad_scopes_are_refused(scope: str) -> None:
    with pytest.raises(InvalidInput):
        check_new_key("ci", [scope], **GOOD)
