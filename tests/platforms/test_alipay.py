"""Alipay checks: every verified vector of platforms/alipay.json (positive and negative), plus
the edge cases around them, with keys generated here where no published key pair exists."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.crypto.platform import (
    alipay_aes_decrypt,
    alipay_aes_encrypt,
    load_rsa_public_key,
    rsa2_sign,
    rsa2_verify,
)
from bastion.errors import ConfigError
from bastion.platforms._alipay import (
    MAX_CONTENT_CHARS,
    MAX_RESPONSE_CHARS,
    decrypt_content,
    refusal_reason,
    sign_request,
    signing_string,
    unverified_response,
    verify_notification,
    verify_phone_response,
    verify_response,
)
from bastion.platforms._errors import PlatformBadResponse, PlatformDataInvalid
from tests.vectors import load_vectors

VECTORS: list[dict[str, Any]] = [
    v for v in load_vectors("platforms/alipay.json")["vectors"] if v["verified"]
]


def _group(prefix: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS if v["id"].split("-")[0] == prefix]


def _method(response_key: str) -> str:
    return response_key.removesuffix("_response").replace("_", ".")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="module")
def alipay_key() -> rsa.RSAPrivateKey:
    """Stands in for Alipay's key where the vectors publish only a public key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def alipay_public_pem(alipay_key: rsa.RSAPrivateKey) -> str:
    return (
        alipay_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _signed_body(key: rsa.RSAPrivateKey, node_key: str, node_text: str) -> str:
    return f'{{"{node_key}":{node_text},"sign":"{_b64(rsa2_sign(key, node_text.encode()))}"}}'


def test_every_verified_vector_is_exercised() -> None:
    groups = {"A1", "A2", "A3", "A4", "A5"}
    assert VECTORS, "no vectors loaded"
    assert {v["id"].split("-")[0] for v in VECTORS} == groups
    assert len(VECTORS) == 13


# --- A1: AES-128-CBC with zero IV ------------------------------------------------------------


@pytest.mark.parametrize("vector", _group("A1"))
def test_content_encryption_vectors_both_directions(vector: dict[str, Any]) -> None:
    """ASVS V11.2.1: the platform's AES format matches the SDKs' published answers."""
    inputs, expected = vector["inputs"], vector["expected"]
    assert inputs["iv_hex"] == "00" * 16
    key = base64.b64decode(inputs["aes_key"])
    ciphertext = base64.b64decode(expected["ciphertext"])
    assert alipay_aes_encrypt(key, inputs["plaintext"].encode()) == ciphertext
    assert alipay_aes_decrypt(key, ciphertext) == inputs["plaintext"].encode()


@pytest.mark.parametrize("vector", _group("A1"))
def test_decrypt_content_refuses_plaintext_that_is_not_a_json_object(
    vector: dict[str, Any],
) -> None:
    """ASVS V16.5.1: non-JSON plaintext is the same generic decrypt_failed."""
    with pytest.raises(PlatformDataInvalid) as caught:
        decrypt_content(vector["expected"]["ciphertext"], vector["inputs"]["aes_key"])
    assert caught.value.reason == "decrypt_failed"


# --- A2: response signatures over the raw node text -----------------------------------------


@pytest.mark.parametrize("vector", _group("A2"))
def test_response_node_text_is_extracted_literally(vector: dict[str, Any]) -> None:
    inputs, expected = vector["inputs"], vector["expected"]
    response = unverified_response(inputs["http_body"], _method(inputs["response_key"]))
    assert response.node_key == inputs["response_key"]
    assert response.signed_text == expected["signed_content"]
    assert response.node == json.loads(expected["signed_content"])
    if "sign" in expected:
        assert response.sign == expected["sign"]


@pytest.mark.parametrize("vector", [p for p in _group("A2") if "valid" in p.values[0]["expected"]])
def test_response_signature_vectors(vector: dict[str, Any]) -> None:
    """ASVS V9.1.1: the response is accepted only if Alipay's signature covers its exact text."""
    inputs, expected = vector["inputs"], vector["expected"]
    args = (inputs["http_body"], _method(inputs["response_key"]), inputs["alipay_public_key"])
    if expected["valid"]:
        assert verify_response(*args) == json.loads(expected["signed_content"])
    else:
        with pytest.raises(PlatformBadResponse) as caught:
            verify_response(*args)
        assert caught.value.reason == expected["error"]


def test_a_reserialised_node_would_not_verify(
    alipay_key: rsa.RSAPrivateKey, alipay_public_pem: str
) -> None:
    """The signed text keeps the body's own spacing and escapes; nothing is re-serialised."""
    node_text = '{ "code" : "10000",\n "url":"http:\\/\\/x", "sign":"inner" }'
    body = _signed_body(alipay_key, "alipay_a_b_response", node_text)
    assert verify_response(body, "alipay.a.b", alipay_public_pem)["url"] == "http://x"
    compact = json.dumps(json.loads(node_text), separators=(",", ":"))
    tampered = body.replace(node_text, compact)
    with pytest.raises(PlatformBadResponse) as caught:
        verify_response(tampered, "alipay.a.b", alipay_public_pem)
    assert caught.value.reason == "signature_invalid"


def test_error_response_is_verified_the_same_way(
    alipay_key: rsa.RSAPrivateKey, alipay_public_pem: str
) -> None:
    node_text = '{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.code-invalid"}'
    body = _signed_body(alipay_key, "error_response", node_text)
    response = unverified_response(body, "alipay.system.oauth.token")
    assert response.is_error
    assert verify_response(body, "alipay.system.oauth.token", alipay_public_pem)["code"] == "40002"
    assert refusal_reason(response.node) == "alipay:isv.code-invalid"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("not json", "malformed", id="not-json"),
        pytest.param("[1, 2]", "malformed", id="array"),
        pytest.param('{"sign":"x"}', "malformed", id="no-node"),
        pytest.param('{"alipay_a_response":"x","sign":"x"}', "malformed", id="node-not-object"),
        pytest.param('{"alipay_a_response":{},"sign":5}', "malformed", id="sign-not-string"),
        pytest.param('{"alipay_a_response":{},"error_response":{}}', "malformed", id="both-nodes"),
        pytest.param('{"alipay_a_response":{},"alipay_a_response":{}}', "malformed", id="dup"),
        pytest.param('{"alipay_a_response":{"a":1,"a":2}}', "malformed", id="nested-dup"),
        pytest.param('{"alipay_a_response":{"n":NaN}}', "malformed", id="nan"),
        pytest.param('{"alipay_a_response":{}} x', "malformed", id="trailing"),
        pytest.param('{"alipay_a_response":{},}', "malformed", id="trailing-comma"),
        pytest.param(
            '{"alipay_a_response":' + "[" * 5000 + "]" * 5000 + "}", "malformed", id="deep"
        ),
        pytest.param('{"alipay_a_response":{}}', "signature_missing", id="unsigned"),
        pytest.param('{"alipay_a_response":{},"sign":"%%%"}', "signature_invalid", id="bad-b64"),
        pytest.param('{"alipay_a_response":{},"sign":"AAAA"}', "signature_invalid", id="short"),
        pytest.param(" " * (MAX_RESPONSE_CHARS + 1), "oversized", id="oversized"),
    ],
)
def test_malformed_responses_are_refused(body: str, reason: str, alipay_public_pem: str) -> None:
    """ASVS V9.1.1: unparsable or unsigned answers fail closed with a typed error."""
    with pytest.raises(PlatformBadResponse) as caught:
        verify_response(body, "alipay.a", alipay_public_pem)
    assert caught.value.reason == reason


# --- A3/A4: notifications --------------------------------------------------------------------


@pytest.mark.parametrize("vector", _group("A3") + _group("A4"))
def test_notification_vectors(vector: dict[str, Any]) -> None:
    """ASVS V9.1.1: notifications verify only under the rule (V1/V2) their type uses."""
    inputs, expected = vector["inputs"], vector["expected"]
    include = inputs["sign_type_in_content"]
    assert (
        signing_string(inputs["params"], exclude_sign_type=not include)
        == (expected["signed_content"])
    )
    args = (inputs["params"], inputs["alipay_public_key"])
    if expected["valid"]:
        assert verify_notification(*args, include_sign_type=include) is None
    else:
        with pytest.raises(PlatformDataInvalid) as caught:
            verify_notification(*args, include_sign_type=include)
        assert caught.value.reason == expected["error"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"sign": ""}, "signature_missing", id="empty-sign"),
        pytest.param({"sign_type": "RSA"}, "signature_invalid", id="sha1-rsa"),
        pytest.param({"sign": "not base64!"}, "signature_invalid", id="bad-b64"),
        pytest.param({"subject": "x" * MAX_RESPONSE_CHARS}, "oversized", id="oversized"),
    ],
)
def test_notification_faults(change: dict[str, str], reason: str) -> None:
    vector = next(v for v in VECTORS if v["id"] == "A3")
    params = {**vector["inputs"]["params"], **change}
    with pytest.raises(PlatformDataInvalid) as caught:
        verify_notification(params, vector["inputs"]["alipay_public_key"])
    assert caught.value.reason == reason


def test_notification_without_sign_is_missing() -> None:
    vector = next(v for v in VECTORS if v["id"] == "A3")
    params = {k: v for k, v in vector["inputs"]["params"].items() if k != "sign"}
    with pytest.raises(PlatformDataInvalid) as caught:
        verify_notification(params, vector["inputs"]["alipay_public_key"])
    assert caught.value.reason == "signature_missing"


# --- signing ---------------------------------------------------------------------------------


def test_signing_string_sorts_skips_sign_and_empty_values_and_keeps_raw_values() -> None:
    params = {"b": "2 & =", "a": "x", "sign": "s", "sign_type": "RSA2", "empty": "", "c": "中"}
    assert signing_string(params) == "a=x&b=2 & =&c=中&sign_type=RSA2"
    assert signing_string(params, exclude_sign_type=True) == "a=x&b=2 & =&c=中"


def test_sign_request_is_rsa2_over_the_signing_string(
    alipay_key: rsa.RSAPrivateKey, alipay_public_pem: str
) -> None:
    params = {"app_id": "2021", "method": "alipay.system.oauth.token", "sign_type": "RSA2"}
    pem = alipay_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    sign = sign_request(params, pem)
    assert sign == sign_request(params, alipay_key)  # PKCS#1 v1.5 is deterministic
    message = signing_string(params).encode()
    assert rsa2_verify(load_rsa_public_key(alipay_public_pem), base64.b64decode(sign), message)


# --- A5: getPhoneNumber ----------------------------------------------------------------------


@pytest.mark.parametrize("vector", _group("A5"))
def test_phone_quoting_rule_vectors(vector: dict[str, Any]) -> None:
    """ASVS V9.1.1: an encrypted response is signed as its JSON string token, quotes included."""
    inputs, expected = vector["inputs"], vector["expected"]
    content = inputs["response"]
    signed = f'"{content}"' if inputs.get("quote_response", True) else content
    assert signed == expected["signed_content"]
    key = load_rsa_public_key(inputs["public_key"])
    assert rsa2_verify(key, base64.b64decode(inputs["sign"]), signed.encode()) is expected["valid"]
    if not expected["valid"]:
        assert expected["error"] == "signature_invalid"
        return
    outer = {"response": content, "sign": inputs["sign"], "sign_type": "RSA2"}
    outer |= {"encrypt_type": "AES", "charset": "UTF-8"}
    plaintext = json.loads(expected["plaintext"])
    assert decrypt_content(content, inputs["aes_key"]) == plaintext
    assert verify_phone_response(json.dumps(outer), key, inputs["aes_key"]) == plaintext


def _phone(key: rsa.RSAPrivateKey, content: str, *, quote: bool, **extra: str) -> str:
    signed = f'"{content}"' if quote else content
    return json.dumps({"response": content, "sign": _b64(rsa2_sign(key, signed.encode()))} | extra)


def _a5() -> dict[str, Any]:
    return next(v for v in VECTORS if v["id"] == "A5")["inputs"]


def test_phone_response_checks_the_signature_before_decrypting(
    alipay_key: rsa.RSAPrivateKey, alipay_public_pem: str
) -> None:
    """ASVS V11.3.3: unauthenticated CBC ciphertext is never decrypted."""
    aes = _a5()["aes_key"]
    bare = _phone(alipay_key, _a5()["response"], quote=False)
    with pytest.raises(PlatformDataInvalid) as caught:
        verify_phone_response(bare, alipay_public_pem, "not base64 at all")
    assert caught.value.reason == "signature_invalid"  # the bad AES key was never reached
    quoted = _phone(alipay_key, _a5()["response"], quote=True)
    assert verify_phone_response(quoted, alipay_public_pem, aes)["mobile"] == "13800000000"


def test_phone_response_refusal_code_and_plain_content(
    alipay_key: rsa.RSAPrivateKey, alipay_public_pem: str
) -> None:
    key = base64.b64decode(_a5()["aes_key"])
    refused = json.dumps({"code": "40004", "sub_code": "isv.no-mobile", "msg": "x"}).encode()
    body = _phone(alipay_key, _b64(alipay_aes_encrypt(key, refused)), quote=True)
    with pytest.raises(PlatformDataInvalid) as caught:
        verify_phone_response(body, alipay_public_pem, _a5()["aes_key"])
    assert caught.value.reason == "alipay:isv.no-mobile"
    plain = _phone(alipay_key, '{"code":"10000","mobile":"1"}', quote=False)
    assert verify_phone_response(plain, alipay_public_pem, _a5()["aes_key"])["mobile"] == "1"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("{}", "malformed", id="no-response"),
        pytest.param('{"response": 1, "sign": "x"}', "malformed", id="response-not-string"),
        pytest.param('{"response": "abc"}', "signature_missing", id="no-sign"),
        pytest.param('{"response": "abc", "sign": "x", "sign_type": "RSA"}', "signature_invalid"),
        pytest.param("x" * (MAX_CONTENT_CHARS + 1), "oversized", id="oversized"),
    ],
)
def test_phone_response_faults(text: str, reason: str, alipay_public_pem: str) -> None:
    with pytest.raises(PlatformDataInvalid) as caught:
        verify_phone_response(text, alipay_public_pem, _a5()["aes_key"])
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "ciphertext",
    [
        pytest.param("%%%", id="bad-base64"),
        pytest.param("", id="empty"),
        pytest.param(_b64(b"\x00" * 15), id="not-whole-blocks"),
        pytest.param(_b64(b"\x00" * 32), id="bad-padding"),
        pytest.param("A" * (MAX_CONTENT_CHARS + 4), id="oversized"),
    ],
)
def test_decrypt_failures_are_one_generic_error(ciphertext: str) -> None:
    """ASVS V16.5.1: base64, length, padding and JSON faults all read decrypt_failed."""
    with pytest.raises(PlatformDataInvalid) as caught:
        decrypt_content(ciphertext, _a5()["aes_key"])
    assert caught.value.reason == "decrypt_failed"
    assert str(caught.value) == PlatformDataInvalid.default_detail


def test_wrong_aes_key_is_decrypt_failed() -> None:
    other = _b64(b"\x01" * 16)
    with pytest.raises(PlatformDataInvalid) as caught:
        decrypt_content(_a5()["response"], other)
    assert caught.value.reason == "decrypt_failed"


@pytest.mark.parametrize("aes_key", ["", "not base64", _b64(b"k" * 15), _b64(b"k" * 17)])
def test_unusable_configured_aes_key_is_a_config_error(aes_key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        decrypt_content(_a5()["response"], aes_key)
    assert "aes_key" in str(caught.value)


# --- properties ------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_body_gives_a_result_or_a_typed_rejection(body: str) -> None:
    """ASVS V2.2.1: any input gives a typed rejection, never another exception."""
    try:
        unverified_response(body, "alipay.a")
    except PlatformBadResponse as exc:
        assert exc.reason in {"malformed", "oversized"}


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=6), _JSON, max_size=4),
    st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")]),
)
def test_extracted_node_text_is_the_serialised_node(node: dict[str, Any], seps: Any) -> None:
    node_text = json.dumps(node | {"sign": "inner"}, separators=seps)
    body = f'{{ "x":1,\n"alipay_a_response" {seps[1]} {node_text} ,"sign" : "s"}}'
    response = unverified_response(body, "alipay.a")
    assert response.signed_text == node_text
    assert response.node == node | {"sign": "inner"}
    assert response.sign == "s"


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=6))
def test_any_notification_gives_a_typed_rejection(params: dict[str, str]) -> None:
    """ASVS V2.2.1: any input gives a typed rejection, never another exception."""
    key = _a5()["public_key"]
    with pytest.raises(PlatformDataInvalid):
        verify_notification(params, key)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_ciphertext_or_phone_response_gives_a_typed_rejection(text: str) -> None:
    """ASVS V2.2.1: any input gives a typed rejection, never another exception."""
    inputs = _a5()
    with pytest.raises(PlatformDataInvalid):
        decrypt_content(text, inputs["aes_key"])
    with pytest.raises(PlatformDataInvalid):
        verify_phone_response(text, inputs["public_key"], inputs["aes_key"])
