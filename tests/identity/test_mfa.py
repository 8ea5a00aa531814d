"""TOTP and recovery codes (bastion.identity._mfa)."""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.crypto import MasterKey
from bastion.errors import AuthenticationFailed
from bastion.identity._mfa import (
    RECOVERY_CODE_BITS,
    TOTP_STEP_SECONDS,
    InvalidCode,
    hash_recovery_code,
    match_recovery_code,
    new_recovery_codes,
    new_totp_secret,
    normalise_recovery_code,
    provisioning_uri,
    verify_totp,
)

NOW = 1_750_000_005.0  # 5 s into a step
STEP = int(NOW // TOTP_STEP_SECONDS)
PURPOSE = "bastion/recovery-code/v1"
CODE_FORMAT = re.compile(r"^[a-z2-7]{4}(-[a-z2-7]{4}){5}$")


@pytest.fixture
def secret() -> str:
    # Fixed seed so that the neighbouring steps' codes are known to differ (no flaky collisions).
    return base64.b32encode(bytes(range(20))).decode()


@pytest.fixture
def key(master_key: MasterKey) -> bytes:
    return master_key.derive(PURPOSE)


def code_at(secret: str, step: int) -> str:
    return str(pyotp.TOTP(secret).generate_otp(step))


def count_compare_digest(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    return calls


# -- TOTP ------------------------------------------------------------------------------------


def test_new_totp_secret_is_160_bits_of_base32() -> None:
    secret = new_totp_secret()
    assert len(base64.b32decode(secret)) == 20
    assert len({new_totp_secret() for _ in range(50)}) == 50


def test_totp_secret_and_recovery_codes_come_from_secrets_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ASVS V6.5.3: seeds and lookup secrets come from the CSPRNG (the secrets module)."""
    asked: list[int] = []

    def fake(n: int) -> bytes:
        asked.append(n)
        return b"\x00" * n

    monkeypatch.setattr(secrets, "token_bytes", fake)
    assert new_totp_secret() == "A" * 32
    assert new_recovery_codes(2) == ["aaaa-aaaa-aaaa-aaaa-aaaa-aaaa"] * 2
    assert asked == [20, 15, 15]


def test_provisioning_uri_is_what_authenticator_apps_expect(secret: str) -> None:
    uri = provisioning_uri(secret, account="alice@example.com", issuer="Bastion Demo")
    parsed = urlparse(uri)
    query = parse_qs(parsed.query)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp")
    assert unquote(parsed.path) == "/Bastion Demo:alice@example.com"
    assert query["secret"] == [secret]
    assert query["issuer"] == ["Bastion Demo"]
    # SHA1 / 6 digits / 30 s are the defaults; anything else would be spelled out.
    assert query.get("algorithm", ["SHA1"]) == ["SHA1"]
    assert query.get("digits", ["6"]) == ["6"]
    assert query.get("period", ["30"]) == ["30"]
    parsed_totp = pyotp.parse_uri(uri)
    assert isinstance(parsed_totp, pyotp.TOTP)
    assert parsed_totp.at(NOW) == code_at(secret, STEP)


def test_verify_totp_accepts_current_code_and_returns_its_step(secret: str) -> None:
    assert verify_totp(secret, code_at(secret, STEP), now=NOW, last_step=0) == STEP


def test_verify_totp_ignores_spaces(secret: str) -> None:
    code = code_at(secret, STEP)
    assert verify_totp(secret, f" {code[:3]} {code[3:]} ", now=NOW, last_step=0) == STEP


@pytest.mark.parametrize("offset", [-1, 1])
def test_verify_totp_accepts_one_step_of_drift(secret: str, offset: int) -> None:
    """ASVS V6.5.5: 30 s steps, at most the documented ±1 step of drift."""
    code = code_at(secret, STEP + offset)
    assert verify_totp(secret, code, now=NOW, last_step=0) == STEP + offset


@pytest.mark.parametrize("offset", [-2, 2])
def test_verify_totp_rejects_two_steps_of_drift(secret: str, offset: int) -> None:
    """ASVS V6.5.5: a code two steps (60 s) away is expired, or not yet valid."""
    code = code_at(secret, STEP + offset)
    assert code not in {code_at(secret, STEP + d) for d in (-1, 0, 1)}  # precondition
    with pytest.raises(InvalidCode):
        verify_totp(secret, code, now=NOW, last_step=0)


def test_verify_totp_step_is_30_seconds(secret: str) -> None:
    """ASVS V6.5.5: with no drift allowed, a code lives exactly its 30 s step."""
    start = STEP * TOTP_STEP_SECONDS
    code = code_at(secret, STEP)
    assert verify_totp(secret, code, now=start + 29.999, last_step=0, drift_steps=0) == STEP
    with pytest.raises(InvalidCode):
        verify_totp(secret, code, now=start + 30, last_step=0, drift_steps=0)


def test_verify_totp_same_code_twice_is_refused(secret: str) -> None:
    """ASVS V6.5.1: a TOTP code is usable once (the caller stores the returned step)."""
    code = code_at(secret, STEP)
    last = verify_totp(secret, code, now=NOW, last_step=0)
    with pytest.raises(InvalidCode):
        verify_totp(secret, code, now=NOW + 1, last_step=last)


def test_verify_totp_older_step_after_newer_is_refused(secret: str) -> None:
    """ASVS V6.5.1: after the next step's code was used, the previous step's code is dead."""
    last = verify_totp(secret, code_at(secret, STEP + 1), now=NOW, last_step=0)
    with pytest.raises(InvalidCode):
        verify_totp(secret, code_at(secret, STEP), now=NOW, last_step=last)
    assert verify_totp(secret, code_at(secret, STEP + 2), now=NOW + 30, last_step=last) == STEP + 2


def test_verify_totp_wrong_code_is_refused(secret: str) -> None:
    valid = {code_at(secret, STEP + d) for d in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)
    with pytest.raises(InvalidCode):
        verify_totp(secret, wrong, now=NOW, last_step=0)


def test_verify_totp_compares_every_candidate_step(
    secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Constant time: all 2*drift+1 candidates are compared even when the first one matches."""
    calls = count_compare_digest(monkeypatch)
    verify_totp(secret, code_at(secret, STEP - 1), now=NOW, last_step=0)
    assert len(calls) == 3


@pytest.mark.parametrize(
    "code",
    [
        "",
        "12345",
        "1234567",
        "12345a",
        "abcdef",
        "\uff11\uff12\uff13\uff14\uff15\uff16",
        "123-456",
        "0" * 10_000,
    ],
)
def test_verify_totp_malformed_code_raises_before_computing(
    secret: str, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_compare_digest(monkeypatch)
    with pytest.raises(InvalidCode):
        verify_totp(secret, code, now=NOW, last_step=0)
    assert calls == []


def test_invalid_code_is_an_opaque_authentication_failure() -> None:
    error = InvalidCode()
    assert isinstance(error, AuthenticationFailed)
    assert (error.type, error.status, error.title) == (
        "invalid-mfa-code",
        401,
        "Invalid verification code",
    )
    assert error.detail == InvalidCode.default_detail


# -- recovery codes --------------------------------------------------------------------------


def test_new_recovery_codes_are_ten_distinct_and_formatted() -> None:
    """ASVS V6.5.2/V6.5.4: random lookup secrets in a fixed, readable format."""
    codes = new_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(CODE_FORMAT.fullmatch(code) for code in codes)


def test_recovery_codes_carry_120_bits() -> None:
    """ASVS V6.5.2: >= 112 bits, so a keyed fast hash is an approved way to store them."""
    assert RECOVERY_CODE_BITS == 120
    for code in new_recovery_codes(20):
        compact = code.replace("-", "")
        assert len(compact) * 5 == 120  # 24 base32 characters, 5 bits each
        assert len(base64.b32decode(compact.upper())) * 8 == 120


def test_normalise_accepts_upper_case_spaces_and_missing_dashes() -> None:
    code = new_recovery_codes(1)[0]
    compact = code.replace("-", "")
    assert normalise_recovery_code(code) == compact
    assert normalise_recovery_code(" " + code.upper().replace("-", " ") + "\n") == compact
    assert normalise_recovery_code(compact.upper()) == compact


@pytest.mark.parametrize(
    "text", ["", "abcd", "abcd-efgh-ijkl-mnop-qrst-uvw", "abcd-efgh-ijkl-mnop-qrst-uvw1", "a" * 25]
)
def test_normalise_rejects_malformed(text: str) -> None:
    with pytest.raises(InvalidCode):
        normalise_recovery_code(text)


@given(st.text(max_size=200))
def test_normalise_recovery_code_raises_only_invalid_code(text: str) -> None:
    try:
        result = normalise_recovery_code(text)
    except InvalidCode:
        return
    assert re.fullmatch(r"[a-z2-7]{24}", result)


def test_hash_recovery_code_is_keyed_and_hides_the_code(key: bytes) -> None:
    """ASVS V6.5.2: only an HMAC-SHA256 under a purpose subkey is stored, never the code."""
    code = new_recovery_codes(1)[0]
    digest = hash_recovery_code(code, key)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert code.replace("-", "") not in digest
    assert hash_recovery_code(code.upper().replace("-", " "), key) == digest
    assert hash_recovery_code(code, MasterKey(b"\x08" * 32).derive(PURPOSE)) != digest
    with pytest.raises(ValueError, match="subkey"):
        hash_recovery_code(code, b"")


def test_match_recovery_code_finds_the_right_index(key: bytes) -> None:
    codes = new_recovery_codes()
    hashes = [hash_recovery_code(code, key) for code in codes]
    for index, code in enumerate(codes):
        assert match_recovery_code(code.upper(), hashes, key) == index
    assert match_recovery_code(new_recovery_codes(1)[0], hashes, key) is None
    assert match_recovery_code(codes[0], [], key) is None


def test_match_recovery_code_single_use_by_removing_the_hash(key: bytes) -> None:
    """ASVS V6.5.1: once the caller drops a used code's hash it never matches again."""
    codes = new_recovery_codes(3)
    hashes = [hash_recovery_code(code, key) for code in codes]
    used = match_recovery_code(codes[1], hashes, key)
    assert used == 1
    remaining = hashes[:used] + hashes[used + 1 :]
    assert match_recovery_code(codes[1], remaining, key) is None


def test_match_recovery_code_compares_every_hash(
    key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Constant time: no early exit when the first hash matches."""
    codes = new_recovery_codes()
    hashes = [hash_recovery_code(code, key) for code in codes]
    calls = count_compare_digest(monkeypatch)
    assert match_recovery_code(codes[0], hashes, key) == 0
    assert len(calls) == len(hashes)


def test_match_recovery_code_malformed_raises(key: bytes) -> None:
    with pytest.raises(InvalidCode):
        match_recovery_code("not a code", [hash_recovery_code(new_recovery_codes(1)[0], key)], key)
