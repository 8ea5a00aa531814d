"""WeChat open data: encryptedData, rawData and login-state signatures, and the CBC layer.

Every verified vector of ``platforms/wechat.json`` runs, positive and negative, with the exact
error kind; synthetic payloads (made here with ``aes_cbc_encrypt`` and a key derived from a
fixed label) cover the parsing rules the vectors do not reach.
"""

from __future__ import annotations

import base64
import hashlib
import json
import traceback
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.crypto.platform import aes_cbc_decrypt, aes_cbc_encrypt, pkcs7_pad, pkcs7_unpad
from bastion.platforms._errors import PlatformDataInvalid
from bastion.platforms._wechat_data import (
    CLOCK_SKEW_SECONDS,
    MAX_ENCRYPTED_CHARS,
    decrypt_wechat_data,
    login_state_signature,
    verify_login_state_signature,
    verify_raw_data_signature,
)
from tests.vectors import load_vectors

_ALL = [v for v in load_vectors("platforms/wechat.json")["vectors"] if v["verified"]]
DECRYPT = [v for v in _ALL if "encrypted_data" in v["inputs"]]
RAW_DATA = [v for v in _ALL if "raw_data" in v["inputs"]]
LOGIN_STATE = [v for v in _ALL if "post_body" in v["inputs"]]
_ids = [v["id"] for v in DECRYPT], [v["id"] for v in RAW_DATA], [v["id"] for v in LOGIN_STATE]

KEY = hashlib.sha256(b"bastion synthetic wechat test key").digest()[:16]
IV = bytes(range(16))
APP = "wx0123456789abcdef"
NOW = 1_700_000_000


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def seal(plaintext: bytes, key: bytes = KEY, iv: bytes = IV) -> dict[str, Any]:
    """Synthetic encryptedData: PKCS#7 + AES-CBC, as WeChat produces it."""
    data = aes_cbc_encrypt(key, iv, pkcs7_pad(plaintext, 16))
    return {"session_key_b64": b64(key), "iv_b64": b64(iv), "encrypted_b64": b64(data)}


def doc(**extra: Any) -> dict[str, Any]:
    return {"openId": "o-user", "watermark": {"appid": APP, "timestamp": NOW}, **extra}


def open_(fields: dict[str, Any], **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"app_id": APP, "now": NOW, "max_age_seconds": 600} | kw
    return decrypt_wechat_data(**fields, **args)


def reason_of(fields: dict[str, Any], **kw: Any) -> str:
    with pytest.raises(PlatformDataInvalid) as caught:
        open_(fields, **kw)
    return caught.value.reason


def run_vector(inputs: dict[str, Any], **override: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "session_key_b64": inputs["session_key"],
        "iv_b64": inputs["iv"],
        "encrypted_b64": inputs["encrypted_data"],
        "app_id": inputs["appid"],
        "now": inputs.get("now", 0),
        "max_age_seconds": inputs.get("watermark_max_age_s", 600),
        "expected_openid": inputs.get("session_openid"),
    }
    return decrypt_wechat_data(**(args | override))


def compact(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("vector", DECRYPT, ids=_ids[0])
def test_encrypted_data_vectors(vector: dict[str, Any]) -> None:
    """ASVS V9.2.1, V9.2.3, V16.5.1: watermark appid and age checked; one generic decrypt error."""
    expected = vector["expected"]
    if not expected["valid"]:
        with pytest.raises(PlatformDataInvalid) as caught:
            run_vector(vector["inputs"])
        assert caught.value.reason == expected["error"]
        return
    document = run_vector(vector["inputs"])
    assert document["watermark"] == expected["watermark"]
    if "plaintext" in expected:
        assert document == json.loads(expected["plaintext"])
    if "plaintext_sha256" in expected:  # the vectors' plaintexts are compact JSON
        assert hashlib.sha256(compact(document)).hexdigest() == expected["plaintext_sha256"]
        assert len(compact(document)) == expected["plaintext_length"]
    for name in ("openId", "unionId", "countryCode"):
        assert document.get(name) == expected.get(name, document.get(name))


@pytest.mark.parametrize(
    "vector", [v for v in DECRYPT if v["expected"].get("decrypts")], ids=lambda v: v["id"]
)
def test_rejected_vectors_still_decrypt_so_only_the_named_check_catches_them(
    vector: dict[str, Any],
) -> None:
    """ASVS V11.3.3: CBC is malleable (W1-d2); only the watermark/openid binding stops it."""
    expected = vector["expected"]
    stamp = expected["watermark"]["timestamp"]
    relaxed = run_vector(
        vector["inputs"], app_id=expected["watermark"]["appid"], now=stamp, expected_openid=None
    )
    assert relaxed["watermark"] == expected["watermark"]
    if "plaintext" in expected:
        assert relaxed == json.loads(expected["plaintext"])


def test_accepts_data_that_is_exactly_max_age_old() -> None:
    fields = seal(compact(doc()))
    assert open_(fields, now=NOW + 600)["openId"] == "o-user"
    assert reason_of(fields, now=NOW + 601) == "stale"


def test_future_watermark_beyond_clock_skew_is_stale() -> None:
    fields = seal(compact(doc()))
    assert open_(fields, now=NOW - CLOCK_SKEW_SECONDS)["openId"] == "o-user"
    assert reason_of(fields, now=NOW - CLOCK_SKEW_SECONDS - 1) == "stale"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        pytest.param({"openId": "o-user"}, "appid_mismatch", id="no-watermark"),
        pytest.param({"watermark": APP}, "appid_mismatch", id="watermark-not-object"),
        pytest.param({"watermark": {"timestamp": NOW}}, "appid_mismatch", id="no-appid"),
        pytest.param(
            {"watermark": {"appid": APP.upper(), "timestamp": NOW}},
            "appid_mismatch",
            id="appid-case",
        ),
        pytest.param({"watermark": {"appid": APP}}, "stale", id="no-timestamp"),
        pytest.param(
            {"watermark": {"appid": APP, "timestamp": str(NOW)}}, "stale", id="timestamp-string"
        ),
        pytest.param(
            {"watermark": {"appid": APP, "timestamp": True}}, "stale", id="timestamp-bool"
        ),
        pytest.param(
            {"watermark": {"appid": APP, "timestamp": NOW + 0.5}}, "stale", id="timestamp-float"
        ),
        pytest.param(doc(openId="o-other"), "openid_mismatch", id="other-openId"),
        pytest.param(doc(openId=None), "openid_mismatch", id="null-openId"),
        pytest.param(
            {"openid": "o-other", **doc()}, "openid_mismatch", id="other-lowercase-openid"
        ),
    ],
)
def test_watermark_and_openid_rules(document: dict[str, Any], reason: str) -> None:
    """ASVS V9.2.3, V8.2.2: data from another app or bound to another user is refused."""
    assert reason_of(seal(compact(document)), expected_openid="o-user") == reason


def test_data_without_openid_is_accepted_when_an_openid_is_expected() -> None:
    phone = {"phoneNumber": "13800000000", "watermark": {"appid": APP, "timestamp": NOW}}
    assert open_(seal(compact(phone)), expected_openid="o-user") == phone


@pytest.mark.parametrize(
    "plaintext",
    [
        b"[1, 2]",
        b'{"a": 1, "a": 2}',
        b'{"a": NaN}',
        b"\xff\xfe{}",
        '{"a":1}'.encode("utf-16"),
        b'\xef\xbb\xbf{"a":1}',
        b"[" * 12_000,
        b"",
    ],
    ids=["array", "duplicate", "nan", "bad-utf8", "utf16", "bom", "deep", "empty"],
)
def test_anything_but_one_strict_json_object_is_decrypt_failed(plaintext: bytes) -> None:
    """ASVS V16.5.1: parse failures and padding failures share one reason."""
    assert reason_of(seal(plaintext)) == "decrypt_failed"


def _with(**change: str) -> dict[str, str]:
    return seal(compact(doc())) | change


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param(
            _with(session_key_b64="tiihtNczf5v6AKRyjwEUhQ"), "base64_invalid", id="key-unpadded"
        ),
        pytest.param(
            _with(session_key_b64="tiihtNczf5v6AKRyjwEUhR=="),
            "base64_invalid",
            id="key-noncanonical-bits",
        ),
        pytest.param(
            _with(session_key_b64="tiihtNczf5v6AKRy jwEUhQ=="), "base64_invalid", id="key-space"
        ),
        pytest.param(
            _with(session_key_b64="tiihtNczf5v6AKRy-wEUhQ=="), "base64_invalid", id="key-urlsafe"
        ),
        pytest.param(
            _with(session_key_b64="tiihtNczf5v6AKRyjwEUhQ==\n"), "base64_invalid", id="key-newline"
        ),
        pytest.param(
            _with(session_key_b64="tiihtNczf5v6AKRyjwEUhQ==é"), "base64_invalid", id="key-non-ascii"
        ),
        pytest.param(_with(session_key_b64=b64(bytes(24))), "invalid_key", id="key-24-bytes"),
        pytest.param(_with(session_key_b64=""), "invalid_key", id="key-empty"),
        pytest.param(_with(session_key_b64="A" * 68), "invalid_key", id="key-oversized"),
        pytest.param(_with(iv_b64=b64(bytes(12))), "decrypt_failed", id="iv-12-bytes"),
        pytest.param(_with(iv_b64="A" * 68), "decrypt_failed", id="iv-oversized"),
        pytest.param(_with(iv_b64="r7BXXKkLb8qrSNn05n0qiA"), "base64_invalid", id="iv-unpadded"),
        pytest.param(_with(encrypted_b64=""), "decrypt_failed", id="data-empty"),
        pytest.param(_with(encrypted_b64=b64(bytes(17))), "decrypt_failed", id="data-17-bytes"),
        pytest.param(
            _with(encrypted_b64="A" * (MAX_ENCRYPTED_CHARS + 4)),
            "decrypt_failed",
            id="data-oversized",
        ),
        pytest.param(_with(encrypted_b64="not base64!"), "base64_invalid", id="data-not-base64"),
    ],
)
def test_input_parsing_is_strict(fields: dict[str, str], reason: str) -> None:
    """ASVS V2.2.1: canonical base64 only, exact key/IV lengths, bounded size."""
    assert reason_of(fields) == reason


def test_caller_bugs_are_value_errors() -> None:
    with pytest.raises(ValueError):
        open_(seal(compact(doc())), app_id="")
    with pytest.raises(ValueError):
        open_(seal(compact(doc())), max_age_seconds=-1)


@pytest.mark.parametrize("vector", RAW_DATA, ids=_ids[1])
def test_raw_data_signature_vectors(vector: dict[str, Any]) -> None:
    """ASVS V11.2.4: rawData SHA-1 signature over the exact text, compared in constant time."""
    i, expected = vector["inputs"], vector["expected"]
    if expected["valid"]:
        verify_raw_data_signature(i["raw_data"], i["signature"], i["session_key"])
        return
    with pytest.raises(PlatformDataInvalid) as caught:
        verify_raw_data_signature(i["raw_data"], i["signature"], i["session_key"])
    assert caught.value.reason == expected["error"]


@pytest.mark.parametrize(
    ("session_key", "reason"),
    [("", "invalid_key"), ("AAAA", "invalid_key"), ("A=A", "base64_invalid")],
)
def test_signatures_refuse_a_malformed_session_key(session_key: str, reason: str) -> None:
    """An empty key would make sha1(rawData + key) forgeable by anyone: fail closed."""
    raw = RAW_DATA[0]["inputs"]["raw_data"]
    for call in (
        lambda: verify_raw_data_signature(
            raw,
            hashlib.sha1((raw + session_key).encode(), usedforsecurity=False).hexdigest(),
            session_key,
        ),
        lambda: login_state_signature(session_key, ""),
    ):
        with pytest.raises(PlatformDataInvalid) as caught:
            call()
        assert caught.value.reason == reason


def test_raw_data_signature_edge_cases() -> None:
    i = RAW_DATA[0]["inputs"]
    for raw, sig in [
        (i["raw_data"], i["signature"].upper()),
        (i["raw_data"], ""),
        (i["raw_data"], "é"),
        ("\ud800", i["signature"]),
        ("x" * (MAX_ENCRYPTED_CHARS + 1), i["signature"]),
    ]:
        with pytest.raises(PlatformDataInvalid) as caught:
            verify_raw_data_signature(raw, sig, i["session_key"])
        assert caught.value.reason == "signature_invalid"


@pytest.mark.parametrize("vector", LOGIN_STATE, ids=_ids[2])
def test_login_state_signature_vectors(vector: dict[str, Any]) -> None:
    """The HMAC key is the session key's base64 text, not its decoded bytes (W4-n1)."""
    i, expected = vector["inputs"], vector["expected"]
    assert login_state_signature(i["session_key"], i["post_body"]) == expected["signature"]
    verify_login_state_signature(
        session_key_b64=i["session_key"], payload=i["post_body"], signature=expected["signature"]
    )
    if "wrong_signature" in expected:
        with pytest.raises(PlatformDataInvalid) as caught:
            verify_login_state_signature(
                session_key_b64=i["session_key"],
                payload=i["post_body"],
                signature=expected["wrong_signature"],
            )
        assert caught.value.reason == "signature_invalid"


def _rendered(exc: BaseException) -> str:
    problem = exc.problem() if isinstance(exc, PlatformDataInvalid) else {}
    parts = [str(exc), repr(exc), json.dumps(problem), *traceback.format_exception(exc)]
    return "\n".join(parts)


def _failures() -> list[tuple[PlatformDataInvalid, list[str]]]:
    found: list[tuple[PlatformDataInvalid, list[str]]] = []
    for vector in DECRYPT:
        i = vector["inputs"]
        secrets = [i["session_key"], base64.b64decode(i["session_key"]).hex(), "oGZUI0egBJY1zhB"]
        for override in ({}, {"app_id": "wx-other"}, {"now": 4e9}, {"expected_openid": "x"}):
            try:
                run_vector(i, **override)
            except PlatformDataInvalid as exc:
                found.append((exc, secrets))
    canary = "PLAINTEXT-CANARY"
    for plaintext in (f'{{"phone":"{canary}"'.encode(), f"{canary}\xff".encode("latin-1")):
        try:
            open_(seal(plaintext))
        except PlatformDataInvalid as exc:
            found.append((exc, [canary, b64(KEY), KEY.hex()]))
    for vector in RAW_DATA:
        i = vector["inputs"]
        try:
            verify_raw_data_signature(i["raw_data"], "0" * 40, i["session_key"])
        except PlatformDataInvalid as exc:
            found.append((exc, [i["session_key"], i["raw_data"][:20], "Guangzhou"]))
    return found


def test_no_error_holds_the_session_key_or_the_plaintext() -> None:
    """ASVS V16.2.5, V16.5.1: messages, reprs, problems and chains carry no key or data."""
    failures = _failures()
    assert len(failures) >= 20
    for exc, secrets in failures:
        assert exc.__context__ is None and exc.__cause__ is None
        assert exc.detail == PlatformDataInvalid.default_detail
        text = _rendered(exc)
        for secret in [*secrets, "phoneNumber", "1800", "nickName"]:
            assert secret not in text


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=40), iv=st.text(max_size=40), data=st.text(max_size=200))
def test_arbitrary_text_inputs_raise_only_platform_data_invalid(
    key: str, iv: str, data: str
) -> None:
    """ASVS V2.2.1: any input gives a typed rejection, never another exception."""
    with pytest.raises(PlatformDataInvalid):
        decrypt_wechat_data(
            session_key_b64=key,
            iv_b64=iv,
            encrypted_b64=data,
            app_id=APP,
            now=NOW,
            max_age_seconds=1,
        )


@settings(max_examples=300, deadline=None)
@given(plaintext=st.binary(max_size=300), iv=st.binary(min_size=16, max_size=16))
def test_arbitrary_plaintexts_raise_only_platform_data_invalid(plaintext: bytes, iv: bytes) -> None:
    """ASVS V2.2.1: whatever the key holder encrypted, parsing ends in a dict or a typed error."""
    try:
        result = open_(seal(plaintext, iv=iv))
    except PlatformDataInvalid as exc:
        assert exc.reason in {"decrypt_failed", "appid_mismatch", "stale", "openid_mismatch"}
    else:
        assert isinstance(result, dict)


_json_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30))


@settings(max_examples=200, deadline=None)
@given(extra=st.dictionaries(st.text(max_size=12), _json_values, max_size=6))
def test_round_trip_of_any_watermarked_object(extra: dict[str, Any]) -> None:
    document = extra | {"watermark": {"appid": APP, "timestamp": NOW}}
    assert open_(seal(compact(document))) == document


@settings(max_examples=200, deadline=None)
@given(raw=st.text(max_size=300), key=st.binary(min_size=16, max_size=16))
def test_raw_data_signature_round_trip_and_any_change_fails(raw: str, key: bytes) -> None:
    session_key = b64(key)
    signature = hashlib.sha1((raw + session_key).encode(), usedforsecurity=False).hexdigest()
    verify_raw_data_signature(raw, signature, session_key)
    with pytest.raises(PlatformDataInvalid):
        verify_raw_data_signature(raw + " ", signature, session_key)
    body_sig = login_state_signature(session_key, raw)
    verify_login_state_signature(session_key_b64=session_key, payload=raw, signature=body_sig)
    with pytest.raises(PlatformDataInvalid):
        verify_login_state_signature(
            session_key_b64=session_key, payload=raw + "x", signature=body_sig
        )


# The CBC layer underneath (bastion.crypto._cbc); W1/W2 above are its AES-128 known answers.


@pytest.mark.parametrize("size", [16, 24, 32])
def test_cbc_round_trip_for_each_aes_key_size(size: int) -> None:
    key = bytes(range(size))
    data = pkcs7_pad(b"attack at dawn", 16)
    sealed = aes_cbc_encrypt(key, IV, data)
    assert sealed != data and aes_cbc_decrypt(key, IV, sealed) == data


@pytest.mark.parametrize(
    ("key", "iv", "data"),
    [
        (bytes(15), IV, bytes(16)),
        (bytes(33), IV, bytes(16)),
        (KEY, bytes(8), bytes(16)),
        (KEY, IV, bytes(17)),
    ],
    ids=["key15", "key33", "iv8", "data17"],
)
def test_cbc_refuses_bad_lengths(key: bytes, iv: bytes, data: bytes) -> None:
    for function in (aes_cbc_decrypt, aes_cbc_encrypt):
        with pytest.raises(ValueError):
            function(key, iv, data)


def _reference_unpad(data: bytes, block: int) -> bytes | None:
    if not data or len(data) % block or not 1 <= data[-1] <= block:
        return None
    n = data[-1]
    return data[:-n] if data[-n:] == bytes([n]) * n else None


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=100), block=st.sampled_from([8, 16, 32]))
def test_pkcs7_unpad_checks_every_pad_byte(data: bytes, block: int) -> None:
    assert pkcs7_unpad(pkcs7_pad(data, block), block) == data
    whole_blocks = data[: len(data) - len(data) % block]
    expected = _reference_unpad(whole_blocks, block)
    try:
        got: bytes | None = pkcs7_unpad(whole_blocks, block)
    except ValueError as exc:
        assert str(exc) == "invalid padding"
        got = None
    assert got == expected


def test_pkcs7_unpad_rejects_each_fault() -> None:
    for data, block in [
        (b"", 16),
        (b"a" * 15 + b"\x00", 16),
        (b"a" * 15 + b"\x11", 16),
        (b"a" * 13 + b"\x02\x03\x03", 16),
        (b"a" * 17, 16),
        (bytes([33]) * 32, 32),
    ]:
        with pytest.raises(ValueError, match="invalid padding"):
            pkcs7_unpad(data, block)
    with pytest.raises(ValueError):
        pkcs7_unpad(bytes(16), 256)
