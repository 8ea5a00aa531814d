"""Douyin/ByteDance open data: the WeChat algorithm behind :func:`decrypt_douyin_data`.

No usable published Douyin vector exists (its documentation marks its one example hash as
illustrative, "the real value will differ"), so the Douyin-shaped payloads here are
**synthetic**: made in this file with ``aes_cbc_encrypt`` and a key derived from a fixed
label, following Douyin's documented rules (AES-128-CBC, key = base64-decode(session_key),
IV = base64-decode(iv), PKCS#7; phone plaintext with ``watermark{appid, timestamp}``).
Because Douyin documents the WeChat algorithm unchanged, every verified WeChat vector
(``platforms/wechat.json``) also runs through the Douyin entry point and must behave alike.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from bastion.crypto.platform import aes_cbc_encrypt, pkcs7_pad
from bastion.platforms._errors import PlatformDataInvalid
from bastion.platforms._wechat_data import decrypt_douyin_data, verify_raw_data_signature
from tests.vectors import load_vectors

WECHAT = [
    v
    for v in load_vectors("platforms/wechat.json")["vectors"]
    if v["verified"] and "encrypted_data" in v["inputs"]
]

KEY = hashlib.sha256(b"bastion synthetic douyin test key").digest()[:16]
IV = hashlib.sha256(b"bastion synthetic douyin test iv").digest()[:16]
APP = "tt0123456789abcdef"
NOW = 1_700_000_000
PHONE = {
    "phoneNumber": "+86 13800000000",
    "purePhoneNumber": "13800000000",
    "countryCode": "86",
    "watermark": {"appid": APP, "timestamp": NOW - 30},
}
USER = {"openId": "douyin-open-id", "nickName": "tester", "watermark": PHONE["watermark"]}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def seal(document: dict[str, Any]) -> dict[str, Any]:
    plaintext = json.dumps(document, ensure_ascii=False).encode("utf-8")
    data = aes_cbc_encrypt(KEY, IV, pkcs7_pad(plaintext, 16))
    return {"session_key_b64": b64(KEY), "iv_b64": b64(IV), "encrypted_b64": b64(data)}


def reason_of(fields: dict[str, Any], **kw: Any) -> str:
    args: dict[str, Any] = {"app_id": APP, "now": NOW, "max_age_seconds": 300} | kw
    with pytest.raises(PlatformDataInvalid) as caught:
        decrypt_douyin_data(**fields, **args)
    return caught.value.reason


def test_synthetic_phone_data_decrypts() -> None:
    result = decrypt_douyin_data(**seal(PHONE), app_id=APP, now=NOW, max_age_seconds=300)
    assert result == PHONE


def test_synthetic_user_data_binds_to_the_session_openid() -> None:
    """ASVS V8.2.2: decrypted data carrying another openId is refused."""
    fields = seal(USER)
    args: dict[str, Any] = {"app_id": APP, "now": NOW, "max_age_seconds": 300}
    assert decrypt_douyin_data(**fields, **args, expected_openid="douyin-open-id") == USER
    assert reason_of(fields, expected_openid="someone-else") == "openid_mismatch"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"app_id": "wx0123456789abcdef"}, "appid_mismatch", id="wechat-appid"),
        pytest.param({"now": NOW + 300}, "stale", id="stale"),
        pytest.param({"max_age_seconds": 29}, "stale", id="short-policy"),
    ],
)
def test_synthetic_watermark_rules(change: dict[str, Any], reason: str) -> None:
    """ASVS V9.2.1, V9.2.3: Douyin data is bound to the Douyin AppID and a freshness window."""
    assert reason_of(seal(PHONE), **change) == reason


def test_synthetic_wrong_session_key_is_one_generic_failure() -> None:
    """ASVS V16.5.1: a rotated session_key gives the generic decrypt_failed."""
    fields = seal(PHONE) | {"session_key_b64": b64(bytes(16))}
    assert reason_of(fields) == "decrypt_failed"


def test_synthetic_raw_data_signature_is_the_wechat_formula() -> None:
    raw = json.dumps({"nickName": "tester"}, separators=(",", ":"))
    signature = hashlib.sha1((raw + b64(KEY)).encode(), usedforsecurity=False).hexdigest()
    verify_raw_data_signature(raw, signature, b64(KEY))
    with pytest.raises(PlatformDataInvalid):
        verify_raw_data_signature(raw.replace(":", ": "), signature, b64(KEY))


@pytest.mark.parametrize("vector", WECHAT, ids=[v["id"] for v in WECHAT])
def test_wechat_vectors_behave_identically_through_douyin(vector: dict[str, Any]) -> None:
    """Same algorithm, same answers: the WeChat vectors are Douyin's known answers."""
    i, expected = vector["inputs"], vector["expected"]
    args: dict[str, Any] = {
        "session_key_b64": i["session_key"],
        "iv_b64": i["iv"],
        "encrypted_b64": i["encrypted_data"],
        "app_id": i["appid"],
        "now": i.get("now", 0),
        "max_age_seconds": i.get("watermark_max_age_s", 600),
        "expected_openid": i.get("session_openid"),
    }
    if expected["valid"]:
        assert decrypt_douyin_data(**args)["watermark"] == expected["watermark"]
        return
    with pytest.raises(PlatformDataInvalid) as caught:
        decrypt_douyin_data(**args)
    assert caught.value.reason == expected["error"]
