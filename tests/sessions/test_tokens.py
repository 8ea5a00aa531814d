"""Access tokens: issue/verify round trip, claim and time rules, and the verified-token cache.

Attack cases (forged headers, algorithm confusion, vectors, fuzzing) are in
``test_token_attacks.py``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from bastion.config import TokenSettings
from bastion.errors import InvalidInput, InvalidToken
from bastion.infra import ManualClock
from bastion.sessions import _tokens
from bastion.sessions._keys import SigningKeyring
from bastion.sessions._tokens import AccessClaims, TokenService

SETTINGS = TokenSettings()
TTL, LEEWAY = SETTINGS.access_ttl_seconds, SETTINGS.leeway_seconds


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(clock: ManualClock, **changes: Any) -> dict[str, Any]:
    """A valid claim set at the clock's now; ``changes`` override (``None`` removes a claim)."""
    now = int(clock.now())
    claims: dict[str, Any] = {
        "iss": "bastion",
        "aud": "bastion",
        "sub": "user-1",
        "sid": "sess-1",
        "iat": now,
        "nbf": now,
        "exp": now + TTL,
        "jti": "jti-1",
        "scope": "read write",
        "amr": ["pwd", "otp"],
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def sign_raw(
    header: dict[str, Any], payload: dict[str, Any] | bytes, alg: str, private_key: Any
) -> str:
    """A compact JWS with exactly this header (PyJWT's algorithm object computes the signature)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64u(json.dumps(header).encode())}.{b64u(body)}"
    signature = jwt.get_algorithm_by_name(alg).sign(signing_input.encode(), private_key)
    return f"{signing_input}.{b64u(signature)}"


def sign_ours(ring: SigningKeyring, claims: dict[str, Any] | bytes, **header: Any) -> str:
    """Sign with the keyring's current key: header alg/kid/typ as ours unless overridden."""
    key = ring.signing_key()
    full = {"alg": key.alg, "kid": key.kid, "typ": "at+jwt", **header}
    return sign_raw(
        {k: v for k, v in full.items() if v is not None}, claims, key.alg, key.private_key
    )


async def rejected(tokens: TokenService, token: Any) -> str:
    """Assert the token is rejected with the one opaque error; return the audit reason."""
    with pytest.raises(InvalidToken) as info:
        await tokens.verify(token)
    err = info.value
    assert type(err) is InvalidToken and err.detail == InvalidToken.default_detail
    assert "reason" not in err.problem()  # the reason is for audit, not for the client
    return str(err.reason)  # type: ignore[attr-defined]


async def test_round_trip(tokens: TokenService, ring: SigningKeyring, clock: ManualClock) -> None:
    """ASVS V7.2.1: the backend verifies its own signed token and returns the issued claims."""
    clock.advance(0.75)
    token, claims = tokens.issue(
        subject="user-1", session_id="sess-1", scopes=["read", "write"], amr=["pwd"]
    )
    assert await tokens.verify(token) == claims
    now = int(clock.now())
    assert claims == AccessClaims(
        "user-1", "sess-1", ("read", "write"), ("pwd",), claims.jti, now, now + TTL
    )
    assert len(base64.urlsafe_b64decode(claims.jti + "==")) == 16  # 128-bit random jti


async def test_every_claim_and_header_is_present(
    tokens: TokenService, ring: SigningKeyring
) -> None:
    token, claims = tokens.issue(subject="u", session_id="s", scopes=["a", "b"], amr=["pwd", "otp"])
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": ring.signing_key().kid, "typ": "at+jwt"}
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(payload) == {"iss", "aud", "sub", "sid", "iat", "nbf", "exp", "jti", "scope", "amr"}
    assert payload["iss"] == payload["aud"] == "bastion"
    assert (payload["sub"], payload["sid"], payload["scope"], payload["amr"]) == (
        "u",
        "s",
        "a b",
        ["pwd", "otp"],
    )
    assert payload["iat"] == payload["nbf"] == claims.issued_at
    assert payload["exp"] == claims.expires_at == claims.issued_at + TTL
    assert payload["jti"] == claims.jti


async def test_jti_is_unique(tokens: TokenService) -> None:
    jtis = {tokens.issue(subject="u", session_id="s", scopes=[], amr=[])[1].jti for _ in range(50)}
    assert len(jtis) == 50


async def test_expired_after_ttl_and_leeway(tokens: TokenService, clock: ManualClock) -> None:
    """ASVS V9.2.1: exp is enforced against the injected clock, with at most the leeway."""
    token, _ = tokens.issue(subject="u", session_id="s", scopes=[], amr=[])
    clock.advance(TTL + LEEWAY - 1)
    await tokens.verify(token)
    clock.advance(1)
    assert await rejected(tokens, token) == "expired"


async def test_not_yet_valid(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock
) -> None:
    """ASVS V9.2.1: nbf in the future beyond the leeway is rejected."""
    now = int(clock.now())
    early = sign_ours(ring, claims_for(clock, nbf=now + LEEWAY + 1))
    assert await rejected(tokens, early) == "not_yet_valid"
    await tokens.verify(sign_ours(ring, claims_for(clock, nbf=now + LEEWAY)))
    clock.advance(1)
    assert (await tokens.verify(early)).subject == "user-1"


async def test_issued_in_the_future(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock
) -> None:
    now = int(clock.now())
    token = sign_ours(ring, claims_for(clock, iat=now + LEEWAY + 1, exp=now + TTL))
    assert await rejected(tokens, token) == "issued_in_future"


@pytest.mark.parametrize("aud", ["other-service", ["bastion", "other"], ["bastion"], "", "BASTION"])
async def test_wrong_audience(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock, aud: Any
) -> None:
    """ASVS V9.2.3 / V9.2.4: aud must be exactly our audience (a list does not pass)."""
    assert await rejected(tokens, sign_ours(ring, claims_for(clock, aud=aud))) == "wrong_audience"


async def test_token_for_another_audience_is_rejected_by_a_verifier_for_it(
    ring: SigningKeyring, clock: ManualClock
) -> None:
    """ASVS V9.2.3: the same key, another configured audience: our tokens do not pass there."""
    token, _ = TokenService(ring, clock, SETTINGS).issue(
        subject="u", session_id="s", scopes=[], amr=[]
    )
    other = TokenService(ring, clock, TokenSettings(audience="billing"))
    assert await rejected(other, token) == "wrong_audience"


@pytest.mark.parametrize("iss", ["evil", "", ["bastion"], None])
async def test_wrong_issuer(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock, iss: Any
) -> None:
    reason = await rejected(tokens, sign_ours(ring, claims_for(clock, iss=iss)))
    assert reason == ("missing_claim" if iss is None else "wrong_issuer")


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "sid", "iat", "nbf", "exp", "jti"])
async def test_required_claims(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock, claim: str
) -> None:
    """ASVS V9.2.1: an exp-less (or nbf-, iat-, jti-less ...) token is rejected."""
    assert (
        await rejected(tokens, sign_ours(ring, claims_for(clock, **{claim: None})))
        == "missing_claim"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": 1.75e9 + 900.5},
        {"exp": True},
        {"iat": "1750000000"},
        {"sub": ""},
        {"sid": 7},
        {"jti": "j" * 257},
        {"amr": "pwd"},
        {"amr": [1]},
        {"scope": ["a"]},
        {"exp": 1_750_000_000},
    ],
    ids=[
        "float-exp",
        "bool-exp",
        "string-iat",
        "empty-sub",
        "int-sid",
        "long-jti",
        "amr-string",
        "amr-ints",
        "scope-list",
        "exp-not-after-iat",
    ],
)
async def test_bad_claim_types(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock, changes: dict[str, Any]
) -> None:
    assert await rejected(tokens, sign_ours(ring, claims_for(clock, **changes))) == "bad_claim"


async def test_payload_that_is_not_a_json_object(
    tokens: TokenService, ring: SigningKeyring
) -> None:
    assert await rejected(tokens, sign_ours(ring, b"[1, 2]")) == "malformed"
    assert await rejected(tokens, sign_ours(ring, b"not json")) == "malformed"


async def test_cache_hit_returns_the_same_claims_without_verifying_again(
    tokens: TokenService, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _ = tokens.issue(subject="u", session_id="s", scopes=["x"], amr=[])
    assert tokens.verify_cached(token) is None  # issued, but not yet verified
    first = await tokens.verify(token)
    calls: list[str] = []
    original = _tokens._verify_signature
    monkeypatch.setattr(
        _tokens, "_verify_signature", lambda *a: calls.append("sig") or original(*a)
    )
    assert tokens.verify_cached(token) is first
    assert await tokens.verify(token) is first
    assert calls == []


async def test_cache_hit_still_rejects_after_expiry(
    tokens: TokenService, clock: ManualClock
) -> None:
    """ASVS V9.2.1: a cached token expires exactly like an uncached one."""
    token, _ = tokens.issue(subject="u", session_id="s", scopes=[], amr=[])
    await tokens.verify(token)
    clock.advance(TTL + LEEWAY - 1)
    assert tokens.verify_cached(token) is not None
    clock.advance(1)
    assert tokens.verify_cached(token) is None
    assert await rejected(tokens, token) == "expired"


async def test_cache_keeps_only_successes(
    tokens: TokenService, ring: SigningKeyring, clock: ManualClock
) -> None:
    bad = sign_ours(ring, claims_for(clock, aud="other"))
    for _ in range(2):
        assert await rejected(tokens, bad) == "wrong_audience"
        assert tokens.verify_cached(bad) is None
    assert tokens.verify_cached(123) is None  # type: ignore[arg-type]


async def test_cache_is_bounded_lru(ring: SigningKeyring, clock: ManualClock) -> None:
    tokens = TokenService(ring, clock, TokenSettings(verify_cache_size=2))
    a, b, c = (tokens.issue(subject=s, session_id="s", scopes=[], amr=[])[0] for s in "abc")
    await tokens.verify(a)
    await tokens.verify(b)
    assert tokens.verify_cached(a) is not None  # a is now the most recently used
    await tokens.verify(c)
    assert tokens.verify_cached(b) is None  # least recently used, evicted
    assert tokens.verify_cached(a) is not None and tokens.verify_cached(c) is not None


async def test_cache_disabled(ring: SigningKeyring, clock: ManualClock) -> None:
    tokens = TokenService(ring, clock, TokenSettings(verify_cache_size=0))
    token, claims = tokens.issue(subject="u", session_id="s", scopes=[], amr=[])
    for _ in range(2):
        assert await tokens.verify(token) == claims
        assert tokens.verify_cached(token) is None
    clock.advance(TTL + LEEWAY)
    assert await rejected(tokens, token) == "expired"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"subject": ""},
        {"session_id": "s" * 257},
        {"scopes": ["two words"]},
        {"scopes": [""]},
        {"amr": ["p\twd"]},
        {"scopes": "read"},
    ],
    ids=[
        "empty-subject",
        "long-session",
        "scope-with-space",
        "empty-scope",
        "amr-with-tab",
        "scope-str",
    ],
)
async def test_issue_rejects_bad_input(tokens: TokenService, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "subject": "u",
        "session_id": "s",
        "scopes": ["a"],
        "amr": ["pwd"],
        **kwargs,
    }
    with pytest.raises(InvalidInput):
        tokens.issue(**args)
