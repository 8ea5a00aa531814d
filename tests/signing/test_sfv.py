"""The bounded RFC 8941 subset parser: round trips (hypothesis), strictness, limits."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.signing._sfv import (
    MAX_MEMBERS,
    InnerList,
    Item,
    SfvError,
    Token,
    parse_bytes_member,
    parse_dictionary,
    serialize_dictionary,
)

keys = st.from_regex(r"\A[a-z*][a-z0-9_\-.*]{0,8}\Z")
strings = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
tokens = st.from_regex(r"\A[A-Za-z*][A-Za-z0-9:/!#$%&'*+.^_`|~-]{0,8}\Z").map(Token)
bare = st.one_of(
    st.integers(-999_999_999_999_999, 999_999_999_999_999),
    strings,
    tokens,
    st.binary(max_size=40),
    st.booleans(),
)
params = st.dictionaries(keys, bare, max_size=4)
items = st.builds(Item, bare, params)
members = st.one_of(items, st.builds(InnerList, st.lists(items, max_size=5).map(tuple), params))


@given(st.dictionaries(keys, members, max_size=6))
def test_serialize_then_parse_round_trips(value: dict[str, Item | InnerList]) -> None:
    text = serialize_dictionary(value)
    assert parse_dictionary(text) == value
    assert serialize_dictionary(parse_dictionary(text)) == text


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_sfv_error(text: str) -> None:
    with contextlib.suppress(SfvError):
        parse_dictionary(text)


def test_rfc_9421_example_parses() -> None:
    parsed = parse_dictionary(
        'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"'
    )
    member = parsed["sig-b21"]
    assert isinstance(member, InnerList) and member.items == ()
    assert member.params == {
        "created": 1618884473,
        "keyid": "test-key-rsa-pss",
        "nonce": "b3k2pp5k7z-50gnwp.yemd",
    }
    digest = parse_dictionary("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
    assert isinstance(digest["sha-256"], Item) and len(digest["sha-256"].value) == 32  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "a=1, a=2",  # repeated key: a proxy and the verifier could read different values
        "a=1;p=1;p=2",  # repeated parameter
        "a=1.5",  # decimals are not accepted
        "a=1234567890123456",  # over 15 digits
        'a="\\x"',  # bad escape
        'a="unterminated',
        "a=:not base64!:",
        "a=(1 2",
        "a=1,",  # trailing comma
        "A=1",  # upper-case key
        'a="\u00e9"',  # non-ASCII string
        ", ".join(f"k{i}=1" for i in range(MAX_MEMBERS + 1)),
        "a=(" + " ".join("1" for _ in range(40)) + ")",
    ],
)
def test_strict_refusals(text: str) -> None:
    with pytest.raises(SfvError):
        parse_dictionary(text)


@given(st.from_regex(r"\A[a-z][a-z0-9-]{0,8}\Z"), st.binary(max_size=64))
def test_bytes_member_fast_path_equals_the_parser(key: str, value: bytes) -> None:
    text = serialize_dictionary({key: Item(value)})
    assert parse_bytes_member(text) == parse_dictionary(text) == {key: Item(value)}


@pytest.mark.parametrize("text", ["a=:AAA=:", "a=:A===:", "a=:AA:, b=1", "a=:AA:;p"])
def test_bytes_member_fast_path_refuses_like_the_parser(text: str) -> None:
    try:
        expected = parse_dictionary(text)
    except SfvError:
        with pytest.raises(SfvError):
            parse_bytes_member(text)
    else:
        assert parse_bytes_member(text) == expected
