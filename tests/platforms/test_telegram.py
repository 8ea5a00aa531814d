"""Telegram Mini Apps ``initData``: every verified shared vector (platforms/telegram.json), strict
parsing, freshness, replay keys, secrecy of messages and fuzzing.

Fixtures that are not shared vectors are signed here with an independent HMAC (stdlib ``hmac``)
and a made-up bot token, never with the code under test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.crypto.platform import (
    TELEGRAM_PRODUCTION_PUBLIC_KEY,
    TELEGRAM_TEST_PUBLIC_KEY,
    ed25519_verify,
)
from bastion.platforms._errors import PlatformCredentialInvalid
from bastion.platforms._telegram import (
    MAX_FUTURE_SKEW_SECONDS,
    MAX_INIT_DATA_BYTES,
    TelegramInitData,
    data_check_string,
    init_data_hash,
    parse_init_data,
    replay_key,
    telegram_secret_key,
    validate_init_data,
    validate_init_data_third_party,
    validate_init_data_with_secret_key,
)
from tests.vectors import load_vectors

VECTORS: list[dict[str, Any]] = [
    v for v in load_vectors("platforms/telegram.json")["vectors"] if v["verified"]
]
FIRST_PARTY = [v for v in VECTORS if "init_data" in v["inputs"] and "bot_id" not in v["inputs"]]
THIRD_PARTY = [v for v in VECTORS if "bot_id" in v["inputs"]]
SIGN_DATA = [v for v in VECTORS if "data" in v["inputs"]]
REASONS = {
    "malformed",
    "hash_missing",
    "signature_missing",
    "auth_date_missing",
    "auth_date_malformed",
    "signature_invalid",
    "expired",
    "auth_date_in_future",
    "user_missing",
    "user_malformed",
}
TOKEN = "4242:bastion-test-only-token"  # made up, signs the non-vector fixtures below
USER = '{"id":4242,"first_name":"Zoë \\/ +","username":"tester"}'


def _vector(vector_id: str) -> dict[str, Any]:
    return next(v for v in VECTORS if v["id"] == vector_id)


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in vectors]


def _first_party(inputs: dict[str, Any], **override: Any) -> TelegramInitData:
    args = {"now": inputs["now"], "max_age_seconds": inputs["max_age_s"]} | override
    init_data = args.pop("init_data", inputs["init_data"])
    if "secret_key_hex" in inputs:
        key = bytes.fromhex(inputs["secret_key_hex"])
        return validate_init_data_with_secret_key(init_data, secret_key=key, **args)
    return validate_init_data(init_data, bot_token=inputs["bot_token"], **args)


def _third_party(inputs: dict[str, Any], **override: Any) -> TelegramInitData:
    """Telegram's own keys are selected by ``test_environment``; any other key is injected."""
    args = {"now": inputs["now"], "max_age_seconds": inputs["max_age_s"]} | override
    init_data = args.pop("init_data", inputs["init_data"])
    key = bytes.fromhex(inputs["public_key_hex"])
    if key == TELEGRAM_TEST_PUBLIC_KEY:
        args["test_environment"] = True
    elif key != TELEGRAM_PRODUCTION_PUBLIC_KEY:
        args["public_key"] = key
    return validate_init_data_third_party(init_data, bot_id=inputs["bot_id"], **args)


def _reason(call: Callable[[], object]) -> str:
    with pytest.raises(PlatformCredentialInvalid) as info:
        call()
    return info.value.reason


def _signed(fields: dict[str, str], *, plus: bool = False, token: str = TOKEN) -> str:
    """First-party initData signed independently of the module (hash appended last)."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    mac = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()

    def encode(text: str) -> str:
        return quote_plus(text) if plus else quote(text, safe="")

    return "&".join(f"{encode(k)}={encode(v)}" for k, v in {**fields, "hash": mac}.items())


def _check_valid(data: TelegramInitData, init_data: str) -> None:
    fields = parse_init_data(init_data)
    assert data.raw == fields
    assert data.user == json.loads(fields["user"])
    assert data.user_id == int(data.user["id"])
    assert data.auth_date == int(fields["auth_date"])
    assert data.query_id == (fields.get("query_id") or None)
    assert data.chat_type == (fields.get("chat_type") or None)
    assert data.start_param == (fields.get("start_param") or None)


# --- shared vectors -----------------------------------------------------------------------------


def test_every_verified_vector_is_exercised() -> None:
    assert len(FIRST_PARTY) + len(THIRD_PARTY) + len(SIGN_DATA) == len(VECTORS) == 32
    assert sorted(_ids(FIRST_PARTY) + _ids(THIRD_PARTY) + _ids(SIGN_DATA)) == sorted(_ids(VECTORS))


@pytest.mark.parametrize("vector", FIRST_PARTY, ids=_ids(FIRST_PARTY))
def test_first_party_vector(vector: dict[str, Any]) -> None:
    """ASVS V9.1.1, V9.2.1: the bot-token HMAC and the freshness window, exact reasons."""
    inputs, expected = vector["inputs"], vector["expected"]
    if not expected["valid"]:
        assert _reason(lambda: _first_party(inputs)) == expected["error"]
        return
    data = _first_party(inputs)
    _check_valid(data, inputs["init_data"])
    assert data.hash == parse_init_data(inputs["init_data"])["hash"]
    if "hash" in expected:
        assert data.hash == expected["hash"]
    if "secret_key_hex" in expected:
        assert telegram_secret_key(inputs["bot_token"]).hex() == expected["secret_key_hex"]


@pytest.mark.parametrize("vector", THIRD_PARTY, ids=_ids(THIRD_PARTY))
def test_third_party_vector(vector: dict[str, Any]) -> None:
    """ASVS V9.1.1, V9.1.3, V9.2.3: Ed25519 over the bot-bound string with a configured key."""
    inputs, expected = vector["inputs"], vector["expected"]
    if not expected["valid"]:
        assert _reason(lambda: _third_party(inputs)) == expected["error"]
        return
    data = _third_party(inputs)
    _check_valid(data, inputs["init_data"])
    assert data.signature == parse_init_data(inputs["init_data"])["signature"]
    if "data_check_string" in expected:
        dcs = data_check_string(data.raw, bot_id=inputs["bot_id"])
        assert dcs == expected["data_check_string"]


@pytest.mark.parametrize("vector", SIGN_DATA, ids=_ids(SIGN_DATA))
def test_bare_hmac_vector(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    key = telegram_secret_key(inputs["bot_token"])
    assert init_data_hash(inputs["data"], key) == vector["expected"]["hash"]


def test_ed25519_verify_primitive() -> None:
    """The crypto wrapper: True on T4's signed text, False otherwise, ValueError for a bad key."""
    t4 = _vector("T4")
    message = t4["expected"]["data_check_string"].encode()
    encoded = parse_init_data(t4["inputs"]["init_data"])["signature"]
    signature = base64.urlsafe_b64decode(encoded + "==")
    assert ed25519_verify(TELEGRAM_PRODUCTION_PUBLIC_KEY, signature, message)
    assert not ed25519_verify(TELEGRAM_TEST_PUBLIC_KEY, signature, message)
    assert not ed25519_verify(TELEGRAM_PRODUCTION_PUBLIC_KEY, signature, message + b" ")
    assert not ed25519_verify(TELEGRAM_PRODUCTION_PUBLIC_KEY, signature[:63], message)
    assert not ed25519_verify(TELEGRAM_PRODUCTION_PUBLIC_KEY, b"", message)
    with pytest.raises(ValueError):
        ed25519_verify(TELEGRAM_PRODUCTION_PUBLIC_KEY[:31], signature, message)


# --- strict parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("init_data", "fields"),
    [
        ("", {}),
        ("a=", {"a": ""}),
        ("a=b=c", {"a": "b=c"}),
        ("a=x+y%20z%2B%2b", {"a": "x y z++"}),
        ("a=%E2%9C%93&B_2=%5Cu00e9", {"a": "\u2713", "B_2": "\\u00e9"}),
        ("a=\u00e9", {"a": "\u00e9"}),
        ("a=" + "x" * (MAX_INIT_DATA_BYTES - 2), {"a": "x" * (MAX_INIT_DATA_BYTES - 2)}),
    ],
    ids=["empty", "empty-value", "equals-in-value", "plus-and-percent", "utf8", "raw", "at-cap"],
)
def test_parse_accepts(init_data: str, fields: dict[str, str]) -> None:
    assert parse_init_data(init_data) == fields


@pytest.mark.parametrize(
    "init_data",
    [
        "auth_date=1&auth_date=2",
        "auth_date=1&auth%5Fdate=2",
        "a=1&&b=2",
        "a=1&",
        "&a=1",
        "a",
        "test&foo=bar=baz",
        "=1",
        "a%3Db=1",
        "a+b=1",
        "a.b=1",
        "k" * 65 + "=1",
        "a=%zz",
        "a=%4",
        "a=100%",
        "a=%FF",
        "a=%C3",
        "a=1%0Ab=2",
        "a=1\nb=2",
        "a=\ud800",
        "a=" + "x" * (MAX_INIT_DATA_BYTES - 1),
        "a=" + "\u00e9" * (MAX_INIT_DATA_BYTES // 2),
    ],
    ids=[
        "duplicate",
        "duplicate-after-decoding",
        "empty-pair",
        "trailing-amp",
        "leading-amp",
        "no-equals",
        "aiogram-malformed",
        "empty-key",
        "equals-in-key",
        "space-in-key",
        "dot-in-key",
        "long-key",
        "bad-escape",
        "short-escape",
        "bare-percent",
        "not-utf8",
        "truncated-utf8",
        "encoded-line-feed",
        "raw-line-feed",
        "lone-surrogate",
        "over-cap",
        "over-cap-in-bytes",
    ],
)
def test_parse_rejects(init_data: str) -> None:
    """ASVS V2.2.1, V15.3.7: strict allow-list parsing; duplicates (parameter pollution) refused."""
    assert _reason(lambda: parse_init_data(init_data)) == "malformed"


def test_regrouped_fields_are_refused() -> None:
    """ASVS V9.1.1: a field holding LF could re-split the signed text with the same hash (here
    ``user`` is folded into ``query_id``); such values are refused before the HMAC."""
    t3 = _vector("T3-1")["inputs"]
    fields = parse_init_data(t3["init_data"])
    forged = {
        "auth_date": fields["auth_date"],
        "query_id": f"{fields['query_id']}\nuser={fields['user']}",
        "hash": fields["hash"],
    }
    assert data_check_string(forged) == data_check_string(fields)
    init_data = "&".join(f"{k}={quote(v, safe='')}" for k, v in forged.items())
    assert _reason(lambda: _first_party(t3, init_data=init_data)) == "malformed"


# --- freshness, keys, users ---------------------------------------------------------------------


@pytest.mark.parametrize("vector_id", ["T3-1", "T4", "T5-1"])
def test_freshness_window(vector_id: str) -> None:
    """ASVS V9.2.1: accepted iff ``-skew <= now - auth_date <= max_age``; NaN fails closed."""
    inputs = _vector(vector_id)["inputs"]
    check = _third_party if "bot_id" in inputs else _first_party
    auth, max_age = int(parse_init_data(inputs["init_data"])["auth_date"]), inputs["max_age_s"]
    check(inputs, now=auth + max_age)
    check(inputs, now=auth - MAX_FUTURE_SKEW_SECONDS)
    assert _reason(lambda: check(inputs, now=auth + max_age + 0.5)) == "expired"
    future = auth - MAX_FUTURE_SKEW_SECONDS - 1
    assert _reason(lambda: check(inputs, now=future)) == "auth_date_in_future"
    assert _reason(lambda: check(inputs, now=math.nan)) == "expired"
    with pytest.raises(ValueError):
        check(inputs, max_age_seconds=0)


def test_third_party_configuration_errors() -> None:
    inputs = _vector("T5-1")["inputs"]
    for bot_id in (0, -42, True):
        with pytest.raises(ValueError):
            validate_init_data_third_party(
                inputs["init_data"], bot_id=bot_id, now=inputs["now"], max_age_seconds=60
            )


@pytest.mark.parametrize("variant", ["non-canonical", "padded", "standard-alphabet", "short"])
def test_signature_has_one_spelling(variant: str) -> None:
    """ASVS V9.1.1: only the canonical unpadded base64url form is accepted, so the signature
    string is a stable replay key (the non-canonical form still decodes to the same bytes)."""
    inputs = _vector("T5-1")["inputs"]
    good = parse_init_data(inputs["init_data"])["signature"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    bad = {
        "non-canonical": good[:-1] + alphabet[alphabet.index(good[-1]) + 1],
        "padded": good + "%3D%3D",
        "standard-alphabet": good.replace("_", "/").replace("-", "+"),
        "short": good[:-2],
    }[variant]
    if variant == "non-canonical":
        assert base64.urlsafe_b64decode(bad + "==") == base64.urlsafe_b64decode(good + "==")
    init_data = inputs["init_data"].replace(good, quote(bad, safe="%"))
    assert _reason(lambda: _third_party(inputs, init_data=init_data)) == "signature_invalid"


def test_replay_key() -> None:
    """The key names what was authenticated: the unauthenticated third-party ``hash`` (T5-2 adds
    one to T5-1) does not change it; a signature wins over a hash in first-party data too."""
    t5_1, t5_2 = _third_party(_vector("T5-1")["inputs"]), _third_party(_vector("T5-2")["inputs"])
    assert replay_key(t5_1) == replay_key(t5_2) == "tg:s:" + (t5_1.signature or "")
    t3_1, t3_2 = _first_party(_vector("T3-1")["inputs"]), _first_party(_vector("T3-2")["inputs"])
    assert replay_key(t3_1) == "tg:h:" + (t3_1.hash or "")
    assert replay_key(t3_1) != replay_key(t3_2)
    signed = _signed({"auth_date": "100", "user": USER, "signature": "c2ln"})
    data = validate_init_data(signed, bot_token=TOKEN, now=100, max_age_seconds=60)
    assert replay_key(data) == "tg:s:c2ln"


@pytest.mark.parametrize(
    ("user", "outcome"),
    [
        (None, "user_missing"),
        ("", "user_missing"),
        ("not json", "user_malformed"),
        ("[4242]", "user_malformed"),
        ('{"first_name":"x"}', "user_malformed"),
        ('{"id":true}', "user_malformed"),
        ('{"id":0}', "user_malformed"),
        ('{"id":-5}', "user_malformed"),
        ('{"id":4242.0}', "user_malformed"),
        ('{"id":"42a"}', "user_malformed"),
        ('{"id":9223372036854775808}', "user_malformed"),
        ("[" * 2000 + "]" * 2000, "user_malformed"),
        ('{"id":"4242"}', 4242),
        ('{"id":9223372036854775807}', 2**63 - 1),
    ],
)
def test_signed_user(user: str | None, outcome: str | int) -> None:
    """Identity comes only from the signed ``user`` JSON, and only a positive 64-bit ``id``."""
    fields = {"auth_date": "100"} | ({} if user is None else {"user": user})
    check = partial(
        validate_init_data, _signed(fields), bot_token=TOKEN, now=100, max_age_seconds=60
    )
    if isinstance(outcome, str):
        assert _reason(check) == outcome
    else:
        assert check().user_id == outcome


def test_no_secret_in_messages_or_repr() -> None:
    """ASVS V16.2.5, V16.5.1: errors carry only a reason; the token, the derived key, the hash,
    the signature and the credential never appear in messages, problems or the result's repr."""
    for vector in FIRST_PARTY + THIRD_PARTY:
        inputs, expected = vector["inputs"], vector["expected"]
        if expected["valid"]:
            data = (_third_party if "bot_id" in inputs else _first_party)(inputs)
            shown = repr(data)
            assert str(data.user_id) in shown
            secrets = [v for v in (data.hash, data.signature, data.user.get("first_name")) if v]
            assert all(s not in shown for s in secrets) and secrets
            continue
        with pytest.raises(PlatformCredentialInvalid) as info:
            (_third_party if "bot_id" in inputs else _first_party)(inputs)
        exc = info.value
        text = " ".join([str(exc), repr(exc), exc.detail, json.dumps(exc.problem()), *exc.args])
        assert exc.reason == expected["error"]
        assert exc.detail == PlatformCredentialInvalid.default_detail
        leaks = [inputs.get("bot_token"), inputs["init_data"]]
        if "bot_token" in inputs:
            leaks.append(telegram_secret_key(inputs["bot_token"]).hex())
        try:
            leaks += [v for v in parse_init_data(inputs["init_data"]).values() if len(v) > 3]
        except PlatformCredentialInvalid:
            leaks += inputs["init_data"].split("&")
        assert not [s for s in leaks if s and s in text]


# --- properties ---------------------------------------------------------------------------------

_QUERY_TEXT = st.text(alphabet="auth_dehsignr=&%+0129AFaf\u00e9\n.", max_size=80)
_VALUE = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n"), max_size=40)
_KEY = st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True).filter(
    lambda k: k not in {"hash", "auth_date", "user"}
)


def _outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except PlatformCredentialInvalid as exc:
        assert exc.reason in REASONS
        return exc.reason
    return "valid"


@given(st.one_of(st.text(max_size=200), _QUERY_TEXT))
def test_parse_only_raises_malformed(text: str) -> None:
    """Arbitrary input gives fields or ``malformed``; never another exception."""
    try:
        fields = parse_init_data(text)
    except PlatformCredentialInvalid as exc:
        assert exc.reason == "malformed"
    else:
        assert all("\n" not in v for v in fields.values())


@given(st.one_of(st.text(max_size=200), _QUERY_TEXT), st.integers(1, 2**40))
def test_validators_only_raise_typed_errors(text: str, bot_id: int) -> None:
    """Arbitrary input is refused with a typed reason by both validators; never accepted."""
    first = _outcome(lambda: validate_init_data(text, bot_token=TOKEN, now=1e9, max_age_seconds=60))
    third = _outcome(
        lambda: validate_init_data_third_party(text, bot_id=bot_id, now=1e9, max_age_seconds=60)
    )
    assert first != "valid" and third != "valid"


@given(st.dictionaries(_KEY, _VALUE, max_size=6), _VALUE, st.integers(1, 2**52), st.booleans())
def test_signed_round_trip(extra: dict[str, str], name: str, user_id: int, plus: bool) -> None:
    """Whatever Telegram signs (any text, ``%20`` or ``+`` spaces) verifies and reads back exactly;
    any changed value fails the HMAC."""
    user = json.dumps({"id": user_id, "first_name": name}, ensure_ascii=plus)
    fields = extra | {"auth_date": "1000", "user": user}
    signed = _signed(fields, plus=plus)
    data = validate_init_data(signed, bot_token=TOKEN, now=1000, max_age_seconds=60)
    assert data.raw == fields | {"hash": data.hash}
    assert data.user_id == user_id and data.user["first_name"] == name
    tampered = signed.replace("auth_date=1000", "auth_date=1001")
    check = partial(validate_init_data, tampered, bot_token=TOKEN, now=1000, max_age_seconds=60)
    assert _reason(check) == "signature_invalid"
