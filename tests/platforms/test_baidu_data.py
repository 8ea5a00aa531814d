"""Baidu (swan) open data: AES-192-CBC, 32-byte PKCS#7 block, random/length/App Key framing.

Every verified vector of ``platforms/baidu.json`` runs with its exact error kind; synthetic
frames (made here with ``aes_cbc_encrypt`` and a key derived from a fixed label) cover the
framing rules the two vectors do not reach.
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
from bastion.platforms._baidu_data import decrypt_baidu_data
from bastion.platforms._errors import PlatformDataInvalid
from tests.vectors import load_vectors

VECTORS = [v for v in load_vectors("platforms/baidu.json")["vectors"] if v["verified"]]

KEY = hashlib.sha256(b"bastion synthetic baidu test key").digest()[:24]
IV = bytes(range(16))
APP_KEY = "synthetic-app-key-0123456789abcd"
DOC = {"openid": "open_id", "nickname": "tester"}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def frame(content: bytes, app_key: str = APP_KEY, length: int | None = None) -> bytes:
    size = len(content) if length is None else length
    return bytes(16) + size.to_bytes(4, "big") + content + app_key.encode()


def seal(plaintext: bytes, key: bytes = KEY, block: int = 32) -> dict[str, str]:
    data = aes_cbc_encrypt(key, IV, pkcs7_pad(plaintext, block))
    return {"session_key_b64": b64(key), "iv_b64": b64(IV), "encrypted_b64": b64(data)}


def reason_of(fields: dict[str, str], **kw: Any) -> str:
    with pytest.raises(PlatformDataInvalid) as caught:
        decrypt_baidu_data(**fields, **({"app_key": APP_KEY} | kw))
    return caught.value.reason


def run_vector(inputs: dict[str, Any]) -> dict[str, Any]:
    return decrypt_baidu_data(
        session_key_b64=inputs["session_key"],
        iv_b64=inputs["iv"],
        encrypted_b64=inputs["ciphertext"],
        app_key=inputs["app_key"],
    )


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_baidu_vectors(vector: dict[str, Any]) -> None:
    """ASVS V9.2.3: data framed for another App Key is refused."""
    expected = vector["expected"]
    if not expected["valid"]:
        with pytest.raises(PlatformDataInvalid) as caught:
            run_vector(vector["inputs"])
        assert caught.value.reason == expected["error"]
        return
    document = run_vector(vector["inputs"])
    assert document == json.loads(expected["plaintext"])
    assert (
        hashlib.sha256(expected["plaintext"].encode()).hexdigest() == expected["plaintext_sha256"]
    )


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["expected"]["valid"]], ids=["B1"])
def test_vector_layout_needs_the_32_byte_pad_block(vector: dict[str, Any]) -> None:
    """The published details: pad 28 (a 16-byte unpadder fails), prefix, length, trailer."""
    i, expected = vector["inputs"], vector["expected"]
    data = base64.b64decode(i["ciphertext"])
    assert len(data) == expected["ciphertext_length"]
    raw = aes_cbc_decrypt(base64.b64decode(i["session_key"]), base64.b64decode(i["iv"]), data)
    assert raw[-1] == expected["padding_value"]
    with pytest.raises(ValueError):
        pkcs7_unpad(raw, 16)
    body = pkcs7_unpad(raw, 32)
    assert body[:16].hex() == expected["random_prefix_hex"]
    assert int.from_bytes(body[16:20], "big") == expected["length_field"]
    assert body[20 + expected["length_field"] :].decode() == expected["trailing_app_key"]


def test_synthetic_frame_round_trip_and_openid_binding() -> None:
    """ASVS V8.2.2: data carrying another openid is refused when the session openid is given."""
    fields = seal(frame(json.dumps(DOC).encode()))
    assert decrypt_baidu_data(**fields, app_key=APP_KEY) == DOC
    assert decrypt_baidu_data(**fields, app_key=APP_KEY, expected_openid="open_id") == DOC
    assert reason_of(fields, expected_openid="other") == "openid_mismatch"
    no_openid = seal(frame(b'{"nickname":"x"}'))
    assert decrypt_baidu_data(**no_openid, app_key=APP_KEY, expected_openid="x") == {
        "nickname": "x"
    }


_content = json.dumps(DOC).encode()
_odd = b'{"a":1}'.ljust(48)  # frame of 100 bytes: 16-byte padding gives 112, not a multiple of 32


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param(seal(frame(_content, length=999)), "decrypt_failed", id="length-overrun"),
        pytest.param(seal(bytes(19)), "decrypt_failed", id="shorter-than-header"),
        pytest.param(seal(frame(_odd), block=16), "decrypt_failed", id="16-byte-padding"),
        pytest.param(seal(frame(_content) + b"x"), "app_key_mismatch", id="longer-trailer"),
        pytest.param(seal(frame(_content, app_key="")), "app_key_mismatch", id="no-trailer"),
        pytest.param(seal(frame(b"[1]")), "decrypt_failed", id="json-array"),
        pytest.param(seal(frame(b'{"a":1,"a":2}')), "decrypt_failed", id="duplicate-member"),
        pytest.param(seal(frame(b"\xff{}")), "decrypt_failed", id="bad-utf8"),
        pytest.param(seal(frame(_content), key=KEY[:16]), "invalid_key", id="aes-128-key"),
        pytest.param(
            seal(frame(_content)) | {"session_key_b64": b64(bytes(24))},
            "decrypt_failed",
            id="wrong-key",
        ),
        pytest.param(seal(frame(_content)) | {"iv_b64": "AAAA"}, "decrypt_failed", id="iv-3-bytes"),
        pytest.param(seal(frame(_content)) | {"iv_b64": "AA"}, "base64_invalid", id="iv-unpadded"),
    ],
)
def test_framing_and_input_rules(fields: dict[str, str], reason: str) -> None:
    """ASVS V16.5.1: all crypto/framing faults share decrypt_failed; only the App Key differs."""
    assert reason_of(fields) == reason


def test_empty_app_key_is_a_caller_bug() -> None:
    with pytest.raises(ValueError):
        decrypt_baidu_data(**seal(frame(_content, app_key="")), app_key="")


def test_no_error_holds_the_session_key_or_the_plaintext() -> None:
    """ASVS V16.2.5, V16.5.1: messages, reprs, problems and chains carry no key or data."""
    i = VECTORS[0]["inputs"]
    cases = [i | {"app_key": "other"}, i | {"session_key": b64(bytes(24))}]
    for inputs in cases:
        with pytest.raises(PlatformDataInvalid) as caught:
            run_vector(inputs)
        exc = caught.value
        assert exc.__context__ is None and exc.__cause__ is None
        text = "\n".join([str(exc), repr(exc), json.dumps(exc.problem())])
        text += "".join(traceback.format_exception(exc))
        for secret in (i["session_key"], i["app_key"], "baidu_user", "open_id", "headimgurl"):
            assert secret not in text


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=40), iv=st.text(max_size=40), data=st.text(max_size=200))
def test_arbitrary_text_inputs_raise_only_platform_data_invalid(
    key: str, iv: str, data: str
) -> None:
    """ASVS V2.2.1: any input gives a typed rejection, never another exception."""
    with pytest.raises(PlatformDataInvalid):
        decrypt_baidu_data(session_key_b64=key, iv_b64=iv, encrypted_b64=data, app_key=APP_KEY)


@settings(max_examples=300, deadline=None)
@given(plaintext=st.binary(max_size=200))
def test_arbitrary_plaintexts_raise_only_platform_data_invalid(plaintext: bytes) -> None:
    """ASVS V2.2.1: whatever the key holder encrypted, unframing ends in a dict or a typed error."""
    try:
        result = decrypt_baidu_data(**seal(plaintext), app_key=APP_KEY)
    except PlatformDataInvalid as exc:
        assert exc.reason in {"decrypt_failed", "app_key_mismatch"}
    else:
        assert isinstance(result, dict)


_json_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30))


@settings(max_examples=200, deadline=None)
@given(
    document=st.dictionaries(st.text(max_size=12), _json_values, max_size=6),
    app_key=st.text(min_size=1, max_size=40),
    prefix=st.binary(min_size=16, max_size=16),
)
def test_round_trip_of_any_framed_object(
    document: dict[str, Any], app_key: str, prefix: bytes
) -> None:
    content = json.dumps(document).encode()
    plaintext = prefix + frame(content, app_key=app_key)[16:]
    assert decrypt_baidu_data(**seal(plaintext), app_key=app_key) == document
    with pytest.raises(PlatformDataInvalid) as caught:
        decrypt_baidu_data(**seal(plaintext), app_key=app_key + "x")
    assert caught.value.reason == "app_key_mismatch"
