"""Password policy: lengths, breached list, identifiers, every violation at once, zxcvbn meter."""

from __future__ import annotations

import random
import string
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.config import PasswordSettings
from bastion.errors import WeakPassword
from bastion.identity._hashers import normalise_password
from bastion.identity._policy import PasswordPolicy, Violation

SETTINGS = PasswordSettings()
POLICY = PasswordPolicy(SETTINGS)
FIXED_MESSAGES = {
    "Enter a password.",
    "Use at least 8 characters.",
    "Use at least 15 characters.",
    "Use at most 128 characters.",
    "This password appears in lists of common or breached passwords.",
    "This password is built from your username or e-mail address.",
}


def _codes(password: str, **kwargs: object) -> list[str]:
    return [v.code for v in POLICY.check(password, **kwargs)]  # type: ignore[arg-type]


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


def _passphrase(seed: int, length: int = 20) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_lowercase + " ") for _ in range(length - 2)).join("xy")


@pytest.mark.parametrize(
    ("password", "identifiers", "code"),
    [
        ("", (), "empty"),
        ("qz7#vLm!", (), "too_short"),
        ("q" * 129, (), "too_long"),
        ("password", (), "breached"),
        ("alice2024!!", ("alice",), "contains_identifier"),
    ],
)
def test_each_code_triggers(password: str, identifiers: tuple[str, ...], code: str) -> None:
    """Every stable code is produced by the check that owns it."""
    assert code in _codes(password, identifiers=identifiers)


def test_every_violation_is_reported_at_once() -> None:
    """All reasons in one answer, in a fixed order, each with its params."""
    found = POLICY.check("Alice", identifiers=["alice"])
    assert [v.code for v in found] == ["too_short", "breached", "contains_identifier"]
    assert found[0] == Violation("too_short", "Use at least 15 characters.", {"min_length": 15})
    assert _codes("") == ["empty", "too_short"]


def test_min_length_depends_on_second_factor() -> None:
    """ASVS V6.2.1: 15 code points for a password alone, 8 when a second factor is enforced."""
    assert _codes("qz7#vLm!") == ["too_short"]
    assert _codes("qz7#vLm!", has_second_factor=True) == []
    assert _codes("qz7#vLm", has_second_factor=True) == ["too_short"]
    assert _codes("zqxwvkjplmnbtrg") == []
    assert _codes("zqxwvkjplmnbtr") == ["too_short"]


def test_length_counts_code_points_after_nfkc() -> None:
    """Each Unicode code point is one character: 15 emoji meet the 15 minimum."""
    assert _codes("🦊" * 15) == []
    assert _codes("🦊" * 14) == ["too_short"]


def test_long_passwords_accepted_up_to_the_maximum() -> None:
    """ASVS V6.2.9: 64 and 128 characters are accepted; 129 gets a clear error."""
    for length in (64, 128):
        assert _codes(_passphrase(length, length)) == []
    found = POLICY.check(_passphrase(7, 129))
    assert [v.code for v in found] == ["too_long"]
    assert found[0].params == {"max_length": 128}


@pytest.mark.parametrize(
    "password",
    [
        "zqxwvkjplmnbtrghd",
        "84920571638205716392",
        "🦊" * 16,
        "   🌙   🌙   🌙   🌙",
        "密码很长的一句话不会被任何人猜到吧",
        "ÉTÉ À LA MER, MÊME SOUS LA PLUIE",
    ],
    ids=["lowercase", "digits", "emoji", "spaces-emoji", "cjk", "accented-upper"],
)
def test_no_composition_rules(password: str) -> None:
    """ASVS V6.2.5: any composition is allowed (only letters, only digits, only emoji ...)."""
    assert _codes(password) == []


def test_top_passwords_meeting_the_length_are_refused(shared_data: Path) -> None:
    """ASVS V6.2.4: common passwords that pass the length rule are still refused."""
    passwords = shared_data / "passwords"
    top10k = _lines(passwords / "seclists_10k_most_common.txt")
    long_enough = [p for p in top10k if len(p) >= 15]
    assert long_enough
    assert all("breached" in _codes(p) for p in long_enough)
    with_mfa = [p for p in top10k if len(normalise_password(p)) >= 8]
    assert len(with_mfa) > 2000
    assert all("breached" in _codes(p, has_second_factor=True) for p in with_mfa)


def test_breached_passwords_of_policy_length_are_refused(shared_data: Path) -> None:
    """ASVS V6.2.12: breached passwords (NCSC top 100k) of 15+ characters are refused."""
    ncsc = _lines(shared_data / "passwords" / "ncsc_pwned_passwords_top100k.txt")
    long_enough = [p for p in ncsc if len(p) >= 15]
    assert len(long_enough) > 300
    refused = [p for p in long_enough if "breached" in _codes(p)]
    assert refused == long_enough


def test_random_passphrase_is_accepted() -> None:
    """A random 20-character passphrase passes every rule."""
    phrase = _passphrase(20240601)
    assert len(phrase) == 20
    assert POLICY.check(phrase, identifiers=["alice", "alice@example.com"]) == []


@pytest.mark.parametrize(
    ("password", "identifiers"),
    [
        ("alice2024!!", ["alice"]),
        ("alicealice", ["alice"]),
        ("alice 1999-2024 !!", ["alice"]),
        ("ALICE", ["alice"]),
        ("Alice@Example.com", ["alice@example.com"]),
        ("alice.smith-1999!", ["asmith", "alice.smith@example.com"]),
        ("smith.alice 2024", ["alice", "smith"]),
        ("".join(chr(ord(c) + 0xFEE0) for c in "alice2024!!"), ["alice"]),  # full-width
        ("bob", ["bob"]),
    ],
)
def test_passwords_built_from_identifiers_are_refused(
    password: str, identifiers: list[str]
) -> None:
    """ASVS V6.2.11: the username, e-mail or its local part plus digits/punctuation is refused."""
    codes = _codes(password, identifiers=identifiers, has_second_factor=True)
    assert "contains_identifier" in codes


@pytest.mark.parametrize(
    ("password", "identifiers"),
    [
        ("alice likes long quiet walks", ["alice"]),
        ("tomatoes grow in summer heat", ["bob"]),
        ("bob and the nine lanterns", ["bob"]),
        ("violet kettle marching", ["al", "alice@"]),
    ],
)
def test_identifier_inside_a_real_passphrase_is_allowed(
    password: str, identifiers: list[str]
) -> None:
    """ASVS V6.2.11: an identifier inside enough other text is not a reason to refuse."""
    assert _codes(password, identifiers=identifiers) == []


def test_weak_password_error_never_contains_the_password_or_identifiers() -> None:
    """ASVS V6.2.4/V6.2.11: the problem lists every code but never echoes the secret."""
    password = "alice2024!!"
    with pytest.raises(WeakPassword) as caught:
        POLICY.validate(password, identifiers=["alice", "alice@example.com"])
    error = caught.value
    codes = [e["code"] for e in error.extra["errors"]]
    assert codes == ["too_short", "contains_identifier"]
    assert error.extra["errors"][0] == {
        "code": "too_short",
        "message": "Use at least 15 characters.",
        "min_length": 15,
    }
    text = repr(error.problem()) + str(error)
    assert password not in text
    assert "alice" not in text.lower()


def test_validate_accepts_a_good_password() -> None:
    """A password without violations passes silently."""
    POLICY.validate(_passphrase(99), identifiers=["alice"])


def test_strength_returns_the_meter_fields() -> None:
    """The zxcvbn meter reports score, guesses, crack time, warning and suggestions."""
    weak = POLICY.strength("password1")
    strong = POLICY.strength("violet kettle marching on ice")
    assert set(weak) == {"score", "guesses_log10", "crack_time_display", "warning", "suggestions"}
    assert weak["score"] == 0
    assert strong["score"] == 4
    assert weak["warning"]
    assert isinstance(weak["crack_time_display"], str)
    assert round(weak["guesses_log10"], 2) == weak["guesses_log10"]
    assert isinstance(strong["suggestions"], list)
    hinted = POLICY.strength("xkcdzork1987!", ["xkcdzork@example.com"])
    unhinted = POLICY.strength("xkcdzork1987!")
    assert hinted["score"] < unhinted["score"]
    assert POLICY.strength("")["score"] == 0


def test_strength_only_reads_the_first_100_characters() -> None:
    """zxcvbn is slow on long input: a 1,000-character password is cut to 100 (and works)."""
    start = time.perf_counter()
    long_result = POLICY.strength("ab" * 500)
    elapsed = time.perf_counter() - start
    assert long_result == POLICY.strength("ab" * 50)
    assert elapsed < 2.0


@settings(max_examples=150, deadline=None)
@given(
    password=st.text(max_size=40),
    identifiers=st.lists(st.text(max_size=12), max_size=3),
    mfa=st.booleans(),
)
def test_check_never_raises_and_flags_short_passwords(
    password: str, identifiers: list[str], mfa: bool
) -> None:
    """ASVS V6.2.1: for any text, check() answers; below the minimum it reports too_short."""
    found = POLICY.check(password, identifiers=identifiers, has_second_factor=mfa)
    minimum = SETTINGS.min_length if mfa else SETTINGS.min_length_single_factor
    codes = [v.code for v in found]
    assert ("too_short" in codes) == (len(normalise_password(password)) < minimum)
    assert {v.message for v in found} <= FIXED_MESSAGES  # never derived from the password
