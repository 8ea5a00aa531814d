"""The API key format: shape, CRC-32 checksum, a parser that only raises the typed error."""

from __future__ import annotations

import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.apikeys import generate_key, parse_key
from bastion.apikeys._format import ALPHABET, b62decode, b62encode, checksum
from bastion.errors import InvalidToken

KEY_ID = "0123456789abcdef0123456789abcdef"
SCANNER = re.compile(r"bst_[a-z0-9]{1,16}_[0-9a-f]{32}_[0-9A-Za-z]{49}")
BODY = f"bst_live_{KEY_ID}_" + b62encode(int.from_bytes(b"\x5a" * 32, "big"), 43)
KEY = BODY + checksum(BODY)  # fixed, so parametrised ids are the same in every process


def test_generated_key_has_the_documented_shape_and_parses() -> None:
    """ASVS V6.4.2 (by analogy): at least 192 bits of secret (here 256, 43 base62 characters)."""
    key = generate_key("test", KEY_ID)
    assert SCANNER.fullmatch(key)
    parsed = parse_key(key)
    assert (parsed.unverified_env, parsed.unverified_id) == ("test", KEY_ID)
    assert parsed.unverified_body == key[:-6]
    assert b62decode(key[-6:]) == zlib.crc32(key[:-6].encode())
    assert checksum(key[:-6]) == key[-6:]
    assert len(key.rsplit("_", 1)[1]) - 6 == 43 and 62**43 > 2**256


def test_secrets_differ_and_never_show_in_repr() -> None:
    keys = {generate_key("live", KEY_ID) for _ in range(50)}
    assert len(keys) == 50
    parsed = parse_key(KEY)
    assert KEY.rsplit("_", 1)[1][:20] not in repr(parsed)


@pytest.mark.parametrize(
    ("env", "key_id"),
    [("", KEY_ID), ("Live", KEY_ID), ("l_v", KEY_ID), ("live", KEY_ID.upper()), ("live", "abc")],
)
def test_generate_refuses_bad_env_or_id(env: str, key_id: str) -> None:
    with pytest.raises(ValueError):
        generate_key(env, key_id)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "malformed"),
        ("bst_live", "malformed"),
        (KEY + "x", "malformed"),
        ("xst" + KEY[3:], "malformed"),
        (KEY.replace("_", "-", 1), "malformed"),
        (KEY[:-1] + ("A" if KEY[-1] != "A" else "B"), "checksum"),
        (KEY + "\n", "malformed"),
        ("a" * 10_000, "malformed"),
    ],
)
def test_bad_keys_raise_the_typed_error(text: str, reason: str) -> None:
    with pytest.raises(InvalidToken) as caught:
        parse_key(text)
    assert caught.value.reason == reason
    assert str(caught.value) == str(InvalidToken())


NEAR_KEYS = st.from_regex(
    r"bst_[a-z0-9_]{0,18}_[0-9a-fA-F]{31,33}_[0-9A-Za-z]{48,50}", fullmatch=True
)


@given(st.one_of(st.text(max_size=200), NEAR_KEYS))
def test_parse_never_raises_anything_but_invalid_token(text: str) -> None:
    try:
        parsed = parse_key(text)
    except InvalidToken as exc:
        assert exc.reason in ("malformed", "checksum")
    else:
        assert parsed.unverified_body + text[-6:] == text


@given(st.integers(min_value=0, max_value=len(KEY) - 1), st.sampled_from(ALPHABET + "_-."))
def test_any_one_character_substitution_is_rejected(position: int, char: str) -> None:
    """Secret scanners and our parser reject a typo without a lookup (CRC-32 catches every
    burst of up to 32 bits, so every single-character change)."""
    typo = KEY[:position] + char + KEY[position + 1 :]
    if typo == KEY:
        return
    with pytest.raises(InvalidToken):
        parse_key(typo)


@given(st.integers(min_value=0, max_value=len(KEY)), st.sampled_from(ALPHABET))
def test_any_inserted_or_deleted_character_is_rejected(position: int, char: str) -> None:
    with pytest.raises(InvalidToken):
        parse_key(KEY[:position] + char + KEY[position:])
    if position < len(KEY):
        with pytest.raises(InvalidToken):
            parse_key(KEY[:position] + KEY[position + 1 :])


@settings(max_examples=50)
@given(st.integers(min_value=0, max_value=len(KEY) - 2))
def test_swapping_two_neighbours_is_rejected(position: int) -> None:
    a, b = KEY[position], KEY[position + 1]
    if a == b:
        return
    with pytest.raises(InvalidToken):
        parse_key(KEY[:position] + b + a + KEY[position + 2 :])


@given(st.integers(min_value=0, max_value=62**6 - 1))
def test_base62_round_trips_at_fixed_width(value: int) -> None:
    text = b62encode(value, 6)
    assert len(text) == 6 and b62decode(text) == value
