"""Normalisers: the documented canonical forms, idempotence, and only the documented error
(hypothesis over arbitrary text)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.errors import ConfigError, InvalidVaultValue
from bastion.vault._normalise import (
    normalise_email,
    normalise_exact,
    normalise_phone,
    normalise_text,
    normaliser,
)

PHONES_CN = [
    "13800138000",
    "138 0013 8000",
    "138-0013-8000",
    "+86 138 0013 8000",
    "+86-13800138000",
    "0086 13800138000",
    "\uff11\uff13\uff18\uff10\uff10\uff11\uff13\uff18\uff10\uff10\uff10",  # full-width digits
    "+8613800138000",
]


@pytest.mark.parametrize("typed", PHONES_CN)
def test_chinese_mobile_numbers_meet_in_e164(typed: str) -> None:
    assert normalise_phone(typed, "CN") == "+8613800138000"


@pytest.mark.parametrize(
    ("typed", "region", "e164"),
    [
        ("(650) 253-0000", "US", "+16502530000"),
        ("+1 650 253 0000 ext. 12", "", "+16502530000"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+44 20 7946 0018", "CN", "+442079460018"),
    ],
)
def test_other_regions_and_extensions(typed: str, region: str, e164: str) -> None:
    assert normalise_phone(typed, region) == e164


@pytest.mark.parametrize("bad", ["", "abc", "12", "+86 1", "1" * 65, "13800138000" * 6, "+"])
def test_not_a_phone_number(bad: str) -> None:
    with pytest.raises(InvalidVaultValue) as caught:
        normalise_phone(bad, "CN")
    assert caught.value.status == 422
    assert caught.value.extra["errors"] == [{"field": "value", "code": "phone"}]


def test_without_a_region_only_international_numbers() -> None:
    assert normalise_phone("+8613800138000", "") == "+8613800138000"
    with pytest.raises(InvalidVaultValue):
        normalise_phone("13800138000", "")


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Alice@Example.COM", "alice@example.com"),
        ("  alice@example.com \n", "alice@example.com"),
        ("alice@example.com.", "alice@example.com"),
        ("alice+news@example.com", "alice+news@example.com"),
        ("a.l.i.c.e@gmail.com", "a.l.i.c.e@gmail.com"),
        ("Jörg@Bücher.Example", "jörg@xn--bcher-kva.example"),
        ("jörg@xn--bcher-kva.example", "jörg@xn--bcher-kva.example"),
        ("user@例え.テスト", "user@xn--r8jz45g.xn--zckzah"),
        ("x@sub.\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25\u3002com", "x@sub.example.com"),
    ],
)
def test_email_forms(typed: str, canonical: str) -> None:
    assert normalise_email(typed) == canonical


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "alice",
        "@example.com",
        "alice@",
        "alice@localhost",
        "alice@exa..mple.com",
        "al ice@example.com",
        "alice@@example.com",
        "al\x00ice@example.com",
        "a" * 65 + "@example.com",
        "alice@" + "a" * 250 + ".com",
        "alice@-bad-.com",
    ],
)
def test_not_an_email_address(bad: str) -> None:
    with pytest.raises(InvalidVaultValue) as caught:
        normalise_email(bad)
    assert caught.value.extra["errors"] == [{"field": "value", "code": "email"}]
    assert bad not in caught.value.detail or not bad


def test_text_and_exact() -> None:
    assert normalise_text("  11010519491231002x ") == "11010519491231002x"
    assert normalise_text("\uff21\uff22\uff23\t  Straße") == "abc strasse"
    assert normalise_exact(" As Is ") == " As Is "
    with pytest.raises(InvalidVaultValue):
        normalise_text(" \t ")


def test_unknown_kinds_and_regions_stop_start_up() -> None:
    with pytest.raises(ConfigError):
        normaliser("soundex")
    with pytest.raises(ConfigError):
        normaliser("phone", phone_region="XX")
    assert normaliser("phone", phone_region="US")("(650) 253-0000") == "+16502530000"


PHONE_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="+0123456789 -()", max_size=24),
    st.from_regex(r"\+?[0-9]{1,3}[ -]?[0-9]{3,12}", fullmatch=True),
)
EMAIL_TEXT = st.one_of(
    st.text(max_size=60),
    st.emails(),
    st.builds(
        lambda a, b: f"{a}@{b}",
        st.text(min_size=1, max_size=20),
        st.text(min_size=1, max_size=30),
    ),
)
NORMALISERS = {
    "phone-CN": lambda v: normalise_phone(v, "CN"),
    "phone-none": lambda v: normalise_phone(v, ""),
    "email": normalise_email,
    "text": normalise_text,
    "exact": normalise_exact,
}


def _check_idempotent(name: str, value: str) -> None:
    normalise = NORMALISERS[name]
    try:
        once = normalise(value)
    except InvalidVaultValue as exc:
        assert value not in exc.detail or len(value) < 3  # never echoes the value
        return
    assert normalise(once) == once


@settings(max_examples=400, deadline=None)
@given(value=PHONE_TEXT, name=st.sampled_from(["phone-CN", "phone-none"]))
def test_phone_is_idempotent_and_raises_only_the_documented_error(value: str, name: str) -> None:
    _check_idempotent(name, value)


@settings(max_examples=400, deadline=None)
@given(value=EMAIL_TEXT)
def test_email_is_idempotent_and_raises_only_the_documented_error(value: str) -> None:
    _check_idempotent("email", value)


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=60), name=st.sampled_from(["text", "exact"]))
def test_text_is_idempotent_and_raises_only_the_documented_error(value: str, name: str) -> None:
    _check_idempotent(name, value)
