"""Attacks on access-token verification: tampering, algorithm confusion, header key material,
key confusion, malformed input, public JOSE vectors and fuzzing. Every case must end in the one
opaque ``InvalidToken``; the audit reason is asserted where it shows which rule fired."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.config import TokenSettings
from bastion.crypto._signing_keys import (
    generate_signing_key,
    jwk_thumbprint,
    public_jwk,
    public_key_from_jwk,
)
from bastion.errors import InvalidInput, InvalidToken
from bastion.infra import ManualClock
from bastion.sessions import _tokens
from bastion.sessions._keys import SigningKeyring
from bastion.sessions._tokens import TokenService
from tests.sessions.test_tokens import b64u, claims_for, rejected, sign_ours, sign_raw
from tests.vectors import load_vectors, vector_files

SETTINGS = TokenSettings()
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")  # RFC 8410 SubjectPublicKeyInfo


def _split(token: str) -> list[str]:
    return token.split(".")


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64u(json.dumps(header).encode())}.{b64u(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64u(mac)}"


async def test_tampered_payload(tokens: TokenService) -> None:
    """ASVS V9.1.1: a changed claim invalidates the signature before any claim is used."""
    h, p, s = _split(tokens.issue(subject="user", session_id="s", scopes=["read"], amr=["pwd"])[0])
    claims = json.loads(_unb64u(p))
    claims.update(sub="admin", scope="read admin")
    assert await rejected(tokens, f"{h}.{b64u(json.dumps(claims).encode())}.{s}") == "bad_signature"


async def test_tampered_header_and_signature(tokens: TokenService, ring: SigningKeyring) -> None:
    """ASVS V9.1.1: header and signature bytes are covered too."""
    h, p, s = _split(tokens.issue(subject="u", session_id="s", scopes=[], amr=[])[0])
    header = {**json.loads(_unb64u(h)), "x": 1}
    assert await rejected(tokens, f"{b64u(json.dumps(header).encode())}.{p}.{s}") == "bad_signature"
    sig = bytearray(_unb64u(s))
    sig[10] ^= 1
    assert await rejected(tokens, f"{h}.{p}.{b64u(bytes(sig))}") == "bad_signature"
    assert await rejected(tokens, f"{h}.{p}.{b64u(bytes(sig[:-1]))}") == "bad_signature"


async def test_non_canonical_base64url_is_refused(tokens: TokenService) -> None:
    """ASVS V9.1.1: the same signature bytes in a second spelling (unused low bits set) fail."""
    token, _ = tokens.issue(subject="u", session_id="s", scopes=[], amr=[])
    h, p, s = _split(token)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = s[:-1] + alphabet[alphabet.index(s[-1]) ^ 1]  # 64 bytes: the last 4 bits are unused
    assert _unb64u(twin) == _unb64u(s)
    assert await rejected(tokens, f"{h}.{p}.{twin}") == "malformed"


@pytest.mark.parametrize("shape", ["{h}.{p}.", "{h}.{p}", "{h}..{s}", ".{p}.{s}", "{h}.{p}.{s}."])
async def test_stripped_or_missing_parts(tokens: TokenService, shape: str) -> None:
    """ASVS V9.1.1: a stripped signature (or any empty part) is malformed, never unsigned."""
    h, p, s = _split(tokens.issue(subject="u", session_id="s", scopes=[], amr=[])[0])
    assert await rejected(tokens, shape.format(h=h, p=p, s=s)) == "malformed"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock, alg: str
) -> None:
    """ASVS V9.1.2: 'none' is never accepted, with or without a signature part."""
    header = {"alg": alg, "kid": ring.signing_key().kid, "typ": "at+jwt"}
    unsigned = f"{b64u(json.dumps(header).encode())}.{b64u(json.dumps(claims_for(clock)).encode())}"
    assert await rejected(tokens, unsigned + ".") == "malformed"
    assert await rejected(tokens, unsigned + "." + b64u(b"sig")) == "alg_mismatch"


def _public_key_secrets(ring: SigningKeyring) -> dict[str, bytes]:
    jwk = ring.jwks()["keys"][0]
    raw = _unb64u(jwk["x"])
    der = base64.encodebytes(ED25519_SPKI_PREFIX + raw).decode().strip()
    pem = f"-----BEGIN PUBLIC KEY-----\n{der}\n-----END PUBLIC KEY-----\n".encode()
    return {
        "raw": raw,
        "pem": pem,
        "pem-no-newline": pem.rstrip(b"\n"),
        "jwk-json": json.dumps(jwk).encode(),
        "x-base64url": jwk["x"].encode(),
    }


@pytest.mark.parametrize("form", ["raw", "pem", "pem-no-newline", "jwk-json", "x-base64url"])
async def test_hs256_signed_with_our_public_key(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock, form: str
) -> None:
    """ASVS V9.1.2: key-type confusion -- an HMAC made with our public key bytes is refused
    because the algorithm is pinned per key (EdDSA), whatever the header says."""
    secret = _public_key_secrets(ring)[form]
    header = {"alg": "HS256", "kid": ring.signing_key().kid, "typ": "at+jwt"}
    assert await rejected(tokens, _hs256(header, claims_for(clock), secret)) == "alg_mismatch"


async def test_header_alg_must_match_the_pinned_alg(clock: ManualClock) -> None:
    """ASVS V9.1.2: kid of an ES256 key, EdDSA token; ES256 header over an EdDSA signature."""
    ed, ec = generate_signing_key("EdDSA"), generate_signing_key("ES256")
    ring = SigningKeyring.for_verification_only(
        [("ed", "EdDSA", ed.public_key()), ("ec", "ES256", ec.public_key())], clock, SETTINGS
    )
    tokens = TokenService(ring, clock, SETTINGS)
    good = sign_raw({"alg": "EdDSA", "kid": "ed", "typ": "at+jwt"}, claims_for(clock), "EdDSA", ed)
    assert (await tokens.verify(good)).subject == "user-1"
    wrong_kid = sign_raw(
        {"alg": "EdDSA", "kid": "ec", "typ": "at+jwt"}, claims_for(clock), "EdDSA", ed
    )
    assert await rejected(tokens, wrong_kid) == "alg_mismatch"
    _, p, s = _split(wrong_kid)
    lying_header = b64u(json.dumps({"alg": "ES256", "kid": "ec", "typ": "at+jwt"}).encode())
    assert await rejected(tokens, f"{lying_header}.{p}.{s}") == "bad_signature"


@pytest.mark.parametrize(
    "extra",
    [
        {"jwk": "ATTACKER"},
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/c.pem"},
        {"x5c": ["MIIBATTACKER"]},
        {"crit": ["exp"], "exp": 1},
        {"b64": False, "crit": ["b64"]},
    ],
    ids=["jwk", "jku", "x5u", "x5c", "crit", "b64"],
)
async def test_header_key_material_is_refused(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock, extra: dict[str, Any]
) -> None:
    """ASVS V9.1.3: keys named in the header are never fetched or trusted."""
    attacker = generate_signing_key("EdDSA")
    if extra.get("jwk") == "ATTACKER":
        extra = {"jwk": {**public_jwk(attacker.public_key()), "kid": ring.signing_key().kid}}
    header = {"alg": "EdDSA", "kid": ring.signing_key().kid, "typ": "at+jwt", **extra}
    assert (
        await rejected(tokens, sign_raw(header, claims_for(clock), "EdDSA", attacker))
        == "forbidden_header"
    )


async def test_attacker_key_with_our_kid(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock
) -> None:
    """ASVS V9.1.3: the kid only selects one of our keys; another key's signature fails."""
    attacker = generate_signing_key("EdDSA")
    header = {"alg": "EdDSA", "kid": ring.signing_key().kid, "typ": "at+jwt"}
    assert (
        await rejected(tokens, sign_raw(header, claims_for(clock), "EdDSA", attacker))
        == "bad_signature"
    )


async def test_kid_pointing_to_another_of_our_keys(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock
) -> None:
    """ASVS V9.1.3: a kid selects one key; another of our keys' signature fails."""
    old = ring.signing_key().kid
    await ring.rotate()
    assert await rejected(tokens, sign_ours(ring, claims_for(clock), kid=old)) == "bad_signature"
    await tokens.verify(sign_ours(ring, claims_for(clock)))


@pytest.mark.parametrize(
    ("kid", "reason"),
    [
        ("unknown", "unknown_kid"),
        ("k" * 65, "bad_header"),
        (7, "bad_header"),
        ("", "bad_header"),
        (None, "bad_header"),
        (["k"], "bad_header"),
    ],
    ids=["unknown", "too-long", "int", "empty", "missing", "list"],
)
async def test_bad_kid(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock, kid: Any, reason: str
) -> None:
    """ASVS V9.1.3: the kid is validated before it is used as a lookup key."""
    assert await rejected(tokens, sign_ours(ring, claims_for(clock), kid=kid)) == reason


@pytest.mark.parametrize("typ", [None, "JWT", "at+JWT", "application/at+jwt", "", 1])
async def test_typ_must_be_at_jwt(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock, typ: Any
) -> None:
    """ASVS V9.2.2: only access tokens (typ at+jwt) are accepted here."""
    assert await rejected(tokens, sign_ours(ring, claims_for(clock), typ=typ)) == "bad_header"


async def test_oversized_token_is_refused_before_parsing(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock
) -> None:
    """ASVS V9.1.1: size is bounded (8 KiB) before any decoding or parsing."""
    fitting = next(
        t
        for n in range(7000, 5000, -1)
        if len(t := sign_ours(ring, claims_for(clock, pad="x" * n))) <= 8192
    )
    await tokens.verify(fitting)  # a signed token up to 8 KiB verifies
    assert await rejected(tokens, sign_ours(ring, claims_for(clock, pad="x" * 7000))) == "oversized"
    assert await rejected(tokens, "a" * 8193) == "oversized"
    assert await rejected(tokens, "a." * 100_000 + "a") == "oversized"


async def test_header_that_is_not_a_json_object(tokens: TokenService) -> None:
    """ASVS V9.1.1: unparsable headers fail closed, deep nesting included (no 500)."""
    assert await rejected(tokens, f"{b64u(b'not json')}.e30.AAAA") == "malformed"
    assert await rejected(tokens, f"{b64u(b'[1,2]')}.e30.AAAA") == "bad_header"
    deep = b"[" * 3000 + b"]" * 3000  # nesting beyond the parser's recursion limit
    assert await rejected(tokens, f"{b64u(deep)}.e30.AAAA") == "malformed"
    assert await rejected(tokens, f"{b64u(bytes([0xFF, 0xFE]))}.e30.AAAA") == "malformed"


async def test_duplicate_header_members(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock
) -> None:
    """ASVS V9.1.2: a header with two ``alg`` members is refused (no parser differential)."""
    key = ring.signing_key()
    raw = f'{{"alg":"none","alg":"EdDSA","kid":"{key.kid}","typ":"at+jwt"}}'.encode()
    signing_input = f"{b64u(raw)}.{b64u(json.dumps(claims_for(clock)).encode())}"
    sig = jwt.get_algorithm_by_name("EdDSA").sign(signing_input.encode(), key.private_key)
    assert await rejected(tokens, f"{signing_input}.{b64u(sig)}") == "bad_header"


async def test_wrong_number_of_parts(tokens: TokenService) -> None:
    """ASVS V9.1.1: only compact JWS with exactly three parts (no JWE, no JSON form)."""
    token, _ = tokens.issue(subject="u", session_id="s", scopes=[], amr=[])
    h, p, s = _split(token)
    for candidate in (f"{h}.{p}", f"{h}.{p}.{s}.{s}", f"{h}.{p}.{s}.{s}.{s}", h, ""):
        assert await rejected(tokens, candidate) == "malformed"


@pytest.mark.parametrize(
    "change",
    [" {t}", "{t} ", "{t}\n", "{t}=", "Bearer {t}", "{t}é", "{t}\x00"],
    ids=["leading-space", "trailing-space", "newline", "padding", "scheme", "non-ascii", "nul"],
)
async def test_characters_outside_base64url(tokens: TokenService, change: str) -> None:
    """ASVS V9.1.1: the token must be exactly base64url.base64url.base64url."""
    token, _ = tokens.issue(subject="u", session_id="s", scopes=[], amr=[])
    assert await rejected(tokens, change.format(t=token)) == "malformed"


@pytest.mark.parametrize("value", [None, b"a.b.c", 123, ["a", "b", "c"], {"a": 1}])
async def test_non_string_tokens(tokens: TokenService, value: Any) -> None:
    """ASVS V7.2.1: any value handed to the verifier ends in InvalidToken."""
    assert await rejected(tokens, value) == "malformed"


_CLOCK = ManualClock()
_OURS = generate_signing_key("EdDSA")
_OUR_KID = jwk_thumbprint(public_jwk(_OURS.public_key()))
_VERIFIER = TokenService(
    SigningKeyring.for_verification_only(
        [(_OUR_KID, "EdDSA", _OURS.public_key())], _CLOCK, SETTINGS
    ),
    _CLOCK,
    SETTINGS,
)
_WYCHEPROOF: list[dict[str, Any]] = load_vectors("jwt/wycheproof_jose_cases.jsonl")
_RFC7515: list[dict[str, Any]] = load_vectors("jwt/rfc7515_appendix_a_examples.json")["examples"]
_COOKBOOK = "jwt/jose_cookbook_rfc7520"
_COOKBOOK_FILES = [
    *vector_files(f"{_COOKBOOK}/jws"),
    f"{_COOKBOOK}/curve25519/jws.json",
    *vector_files(f"{_COOKBOOK}/rfc7797"),
]


def _wycheproof_id(row: dict[str, Any]) -> str:
    return f"{Path(row['source']).stem}-{row['group']}-tc{row['tcId']}-{row['comment']}"


def _as_text(token: Any) -> str:
    """Compact tokens as they are; JSON serialisations as the text an attacker would send."""
    return token if isinstance(token, str) else json.dumps(token)


def _cookbook_cases() -> list[Any]:
    cases = []
    for name in _COOKBOOK_FILES:
        output = load_vectors(name)["output"]
        label = name.removeprefix(_COOKBOOK + "/")
        cases += [pytest.param(_as_text(output[form]), id=f"{label}-{form}") for form in output]
    return cases


@pytest.mark.parametrize("row", _WYCHEPROOF, ids=_wycheproof_id)
async def test_wycheproof_jose_cases_are_rejected(row: dict[str, Any]) -> None:
    """ASVS V9.1.1-V9.1.3: Wycheproof JOSE tokens (valid or not) are not signed by our keyring."""
    with pytest.raises(InvalidToken):
        await _VERIFIER.verify(_as_text(row["input"]))


@pytest.mark.parametrize("example", _RFC7515, ids=lambda e: f"{e['rfc7515_section']}-{e['alg']}")
async def test_rfc7515_examples_are_rejected(example: dict[str, Any]) -> None:
    """ASVS V9.1.2: RFC 7515 A.1-A.5 (HS256, RS256, ES256, ES512, none) are refused."""
    with pytest.raises(InvalidToken):
        await _VERIFIER.verify(example["jws"])


@pytest.mark.parametrize("token", _cookbook_cases())
async def test_rfc7520_cookbook_signatures_are_rejected(token: str) -> None:
    """ASVS V9.1.2: RFC 7520 / 8037 / 7797 JWS examples (all forms) are refused."""
    with pytest.raises(InvalidToken):
        await _VERIFIER.verify(token)


def _usable_keys(key: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The Ed25519/P-256 JWKs of a case (public part only), or None when it has none."""
    jwks = key.get("keys", [key])
    ours = [
        k for k in jwks if (k.get("kty"), k.get("crv")) in {("EC", "P-256"), ("OKP", "Ed25519")}
    ]
    return [{m: v for m, v in k.items() if m != "d"} for k in ours] or None


_KEYED = [r for r in _WYCHEPROOF if _usable_keys(r["key"])]


def _verifier_trusting(jwks: list[dict[str, Any]]) -> TokenService:
    """A verifier trusting exactly the case's keys that pass our strict JWK import."""
    keys = []
    for i, jwk in enumerate(jwks):
        try:
            alg, public = public_key_from_jwk(jwk)
        except InvalidInput:
            continue  # e.g. use=enc, key_ops without verify, alg ES521 on P-256, point off curve
        keys.append((str(jwk.get("kid", f"key-{i}")), alg, public))
    ring = SigningKeyring.for_verification_only(keys, _CLOCK, SETTINGS)
    return TokenService(ring, _CLOCK, SETTINGS)


@pytest.mark.parametrize("row", _KEYED, ids=_wycheproof_id)
async def test_wycheproof_with_the_case_key_trusted_never_accepts_a_reject_case(
    row: dict[str, Any],
) -> None:
    """ASVS V9.1.1/V9.1.2: even trusting the case's own key, every 'reject' case is rejected
    (accept cases may fail too: they lack our typ and claims)."""
    keys = _usable_keys(row["key"])
    assert keys is not None
    verifier = _verifier_trusting(keys)
    if row["expected"] == "reject":
        with pytest.raises(InvalidToken):
            await verifier.verify(_as_text(row["input"]))
    else:
        with pytest.raises(InvalidToken) as info:  # signed, but not a compact access token
            await verifier.verify(_as_text(row["input"]))
        assert info.value.reason in {"bad_header", "unknown_kid", "malformed"}  # type: ignore[attr-defined]


def _signature_cases() -> list[Any]:
    """Compact ES256/EdDSA cases whose key we import, for the signature step on its own."""
    cases = []
    for row in _KEYED:
        token = row["input"]
        header = row["header"] or {}
        jwks = [k for k in _usable_keys(row["key"]) or [] if k.get("kid") == header.get("kid")]
        if (
            not isinstance(token, str)
            or token.count(".") != 2
            or header.get("alg") != "ES256"
            or not jwks
        ):
            continue
        cases.append(
            pytest.param(token, jwks[0], row["expected"], row["flags"], id=_wycheproof_id(row))
        )
    for example in _RFC7515:
        if example["alg"] == "ES256":
            cases.append(
                pytest.param(example["jws"], example["jwk"], "accept", None, id="rfc7515-A.3")
            )
    ed = load_vectors(f"{_COOKBOOK}/curve25519/jws.json")
    cases.append(
        pytest.param(
            ed["output"]["compact"], ed["input"]["key"], "accept", None, id="rfc8037-ed25519"
        )
    )
    return cases


@pytest.mark.parametrize(("token", "jwk", "expected", "flags"), _signature_cases())
def test_signature_step_against_known_answers(
    token: str, jwk: dict[str, Any], expected: str, flags: Any
) -> None:
    """ASVS V9.1.1: the pinned-algorithm signature check alone accepts exactly the valid
    signatures (RFC 7515 A.3, RFC 8037, Wycheproof ES256 special cases) and rejects the rest."""
    public = {m: v for m, v in jwk.items() if m != "d"}
    try:
        alg, key = public_key_from_jwk(public)
    except InvalidInput:
        assert expected == "reject"  # the key itself is unusable (wrong use, alg, point ...)
        return
    if expected == "accept":
        assert _tokens._verify_signature(token, alg, key)
    else:
        with pytest.raises(_tokens._Rejected):
            _tokens._verify_signature(token, alg, key)


_B64URL = st.binary(max_size=300).map(b64u)
_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["EdDSA", "ES256", "HS256", "none", "RS256", ""]),
        "kid": st.one_of(st.just(_OUR_KID), st.text(max_size=70), st.integers()),
        "typ": st.sampled_from(["at+jwt", "JWT", ""]),
        "jwk": st.just({"kty": "OKP"}),
        "crit": st.lists(st.text(max_size=5), max_size=2),
    },
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_rejected(token: Any) -> None:
    try:
        asyncio.run(_VERIFIER.verify(token))
    except InvalidToken:
        return
    raise AssertionError("a fuzzed token was accepted")


@_FUZZ
@given(st.text(max_size=400))
def test_fuzz_arbitrary_text(token: str) -> None:
    """ASVS V9.1.1: arbitrary text is rejected with InvalidToken and nothing else."""
    _assert_rejected(token)


@_FUZZ
@given(_B64URL, _B64URL, _B64URL)
def test_fuzz_three_base64url_parts(header: str, payload: str, signature: str) -> None:
    """ASVS V9.1.1: random compact-shaped tokens are rejected."""
    _assert_rejected(f"{header}.{payload}.{signature}")


@_FUZZ
@given(_HEADERS, _JSON, st.binary(min_size=0, max_size=80))
def test_fuzz_structured_headers_and_claims(
    header: dict[str, Any], claims: Any, signature: bytes
) -> None:
    """ASVS V9.1.1-V9.1.3: JSON headers (with our kid, any alg) and claims, random signature."""
    body = json.dumps(claims).encode()
    _assert_rejected(f"{b64u(json.dumps(header).encode())}.{b64u(body)}.{b64u(signature)}")
