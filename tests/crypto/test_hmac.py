"""The reusable HMAC-SHA256 key is HMAC-SHA256 itself, and its tag check is all or nothing."""

from __future__ import annotations

import hmac
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bastion.crypto import HmacKey

WYCHEPROOF = Path(__file__).resolve().parents[3] / "shared" / "data" / "wycheproof"


@given(st.binary(max_size=200), st.binary(max_size=400))
def test_mac_is_hmac_sha256_and_the_key_is_reusable(key: bytes, data: bytes) -> None:
    mac = HmacKey(key)
    expected = hmac.digest(key, data, "sha256")
    assert mac.mac(data) == expected
    assert mac.mac(data) == expected  # keying is not consumed by a message
    assert mac.matches(data, expected)


@given(st.binary(min_size=1, max_size=64), st.binary(max_size=100), st.integers(0, 31))
def test_a_changed_or_truncated_tag_never_matches(key: bytes, data: bytes, at: int) -> None:
    mac = HmacKey(key)
    tag = mac.mac(data)
    flipped = tag[:at] + bytes([tag[at] ^ 1]) + tag[at + 1 :]
    assert not mac.matches(data, flipped)
    assert not mac.matches(data, tag[:at])
    assert not mac.matches(data, tag + b"\x00")


def test_repr_hides_the_key() -> None:
    assert repr(HmacKey(b"secret key")) == "HmacKey(...)"


def test_wycheproof_hmac_sha256() -> None:
    path = next(WYCHEPROOF.glob("hmac_sha256_test.json"))
    checked = 0
    for group in json.loads(path.read_text())["testGroups"]:
        if group["tagSize"] != 256:
            continue
        for case in group["tests"]:
            key, msg, tag = (bytes.fromhex(case[k]) for k in ("key", "msg", "tag"))
            assert HmacKey(key).matches(msg, tag) is (case["result"] == "valid"), case["tcId"]
            checked += 1
    assert checked > 50
