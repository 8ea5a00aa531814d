"""The API-key pepper MAC, keyed once, is HMAC-SHA256 itself (stored hashes match)."""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st

from bastion.apikeys._verify import PepperMac


@given(st.binary(max_size=200), st.binary(max_size=300))
def test_pepper_mac_is_hmac_sha256(key: bytes, message: bytes) -> None:
    mac = PepperMac(key)
    expected = hmac.digest(key, message, "sha256")
    assert mac.digest(message) == expected
    assert mac.digest(message) == expected  # the precomputed state is not consumed


def test_pepper_mac_hides_its_key() -> None:
    assert "abc" not in repr(PepperMac(b"abc")) and repr(PepperMac(b"abc")) == "PepperMac(...)"
