"""Access tokens: short-lived JWTs signed by the :class:`SigningKeyring`, and their verifier.

Header ``{"alg", "kid", "typ": "at+jwt"}``, claims ``iss aud sub sid iat nbf exp jti scope amr``.
Nothing is trusted before the signature is checked: the ``unverified_header`` only names the
key, whose pinned algorithm (PyJWT's implementation) checks the signature; the header's ``alg``
must equal it. ``jku x5u jwk x5c crit b64`` are refused, base64url must be canonical, times
come from the injected clock. Every failure raises the same opaque ``InvalidToken``; its
``reason`` attribute (never token bytes) is for audit: ``malformed oversized bad_header
forbidden_header unknown_kid alg_mismatch bad_signature missing_claim bad_claim wrong_issuer
wrong_audience expired not_yet_valid issued_in_future``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import sys
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from bastion.config import TokenSettings
from bastion.crypto import SIGNING_ALGORITHMS, SigningPublicKey
from bastion.errors import InvalidInput, InvalidToken
from bastion.infra import Clock
from bastion.sessions._keys import MAX_KID_LENGTH, SigningKeyring

__all__ = ["MAX_TOKEN_CHARS", "TOKEN_TYPE", "AccessClaims", "TokenService"]

TOKEN_TYPE = "at+jwt"  # noqa: S105 -- a media type, not a secret
MAX_TOKEN_CHARS = 8192
MAX_CLAIM_CHARS = 256
REQUIRED_CLAIMS = ("iss", "aud", "sub", "sid", "iat", "nbf", "exp", "jti")
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit", "b64"})
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# PyJWT's implementation of each algorithm a key can be pinned to; nothing else is reachable.
_ALGORITHMS = {alg: jwt.get_algorithm_by_name(alg) for alg in SIGNING_ALGORITHMS}
_JWS = {alg: jwt.PyJWS(algorithms=[alg]) for alg in SIGNING_ALGORITHMS}  # signing only
_SHARED: dict[tuple[str, ...], tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    session_id: str
    scopes: tuple[str, ...]
    amr: tuple[str, ...]
    jti: str
    issued_at: int
    expires_at: int


class _Rejected(Exception):
    """Internal: ``args[0]`` is the audit reason, raised as InvalidToken in one place."""


def invalid_token(reason: str) -> InvalidToken:
    """The opaque error, with ``reason`` as an attribute (not in the problem body)."""
    return InvalidToken(reason=reason)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Rejected("bad_header")
    return obj


def _b64decode(segment: str) -> bytes:
    """Strict base64url (alphabet checked by ``_COMPACT``): the encoding must be canonical."""
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise _Rejected("malformed") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != segment.encode("ascii"):
        raise _Rejected("malformed")
    return raw


def _unverified_header(token: str) -> dict[str, Any]:
    """Shape checks and the parsed, not yet authenticated, header. Raises ``_Rejected``."""
    if len(token) > MAX_TOKEN_CHARS:
        raise _Rejected("oversized")
    if _COMPACT.fullmatch(token) is None:
        raise _Rejected("malformed")
    raw = _b64decode(token[: token.index(".")])
    try:
        header = json.loads(raw, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        raise _Rejected("malformed") from None
    if not isinstance(header, dict):
        raise _Rejected("bad_header")
    return header


def _header_kid(unverified_header: dict[str, Any]) -> tuple[str, str]:
    """``(kid, alg)`` from a header that passes our rules. Raises ``_Rejected``."""
    if not FORBIDDEN_HEADERS.isdisjoint(unverified_header):
        raise _Rejected("forbidden_header")
    get = unverified_header.get
    kid, alg, typ = get("kid"), get("alg"), get("typ")
    if not isinstance(kid, str) or not isinstance(alg, str) or typ != TOKEN_TYPE:
        raise _Rejected("bad_header")
    if not 0 < len(kid) <= MAX_KID_LENGTH:
        raise _Rejected("bad_header")
    return kid, alg


def _verify_signature(token: str, alg: str, key: SigningPublicKey) -> bytes:
    """The payload bytes when ``token`` (compact JWS) carries a valid signature by ``key``
    under ``alg``, the key's pinned algorithm. Raises ``_Rejected``."""
    algorithm = _ALGORITHMS.get(alg)
    if algorithm is None:
        raise _Rejected("alg_mismatch")
    signing_input, _, signature = token.rpartition(".")
    try:
        valid = algorithm.verify(signing_input.encode("ascii"), key, _b64decode(signature))
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise _Rejected("bad_signature")
    return _b64decode(signing_input[signing_input.find(".") + 1 :])


def _text(data: dict[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CLAIM_CHARS:
        raise _Rejected("bad_claim")
    return value


def _numeric_date(data: dict[str, Any], name: str) -> int:
    value = data[name]
    if type(value) is not int:  # not bool, not float (NaN/Infinity parse as float)
        raise _Rejected("bad_claim")
    return value


def _shared(words: Any) -> tuple[str, ...]:
    """Verified scope/amr values come from a small set: one shared tuple (and string) each,
    so cached claims do not repeat them (the table is bounded)."""
    value = tuple(map(sys.intern, words))
    return _SHARED.setdefault(value, value) if len(_SHARED) < 4096 else value


def _check_times(iat: int, nbf: int, exp: int, now: float, leeway: int) -> None:
    if exp <= iat:
        raise _Rejected("bad_claim")
    if now >= exp + leeway:
        raise _Rejected("expired")
    if nbf > now + leeway:
        raise _Rejected("not_yet_valid")
    if iat > now + leeway:
        raise _Rejected("issued_in_future")


def _check_issue_input(subject: str, session_id: str, *lists: Sequence[str]) -> None:
    if any(isinstance(words, str) for words in lists):
        raise InvalidInput("scopes and amr must be lists of words, not a string")
    for value in (subject, session_id):
        if not isinstance(value, str) or not 0 < len(value) <= MAX_CLAIM_CHARS:
            raise InvalidInput("subject and session_id must be 1-256 characters")
    for word in (w for words in lists for w in words):
        if not isinstance(word, str) or not word or word != "".join(word.split()):
            raise InvalidInput("scopes and amr values must be non-empty words without spaces")


class TokenService:
    """Issues and verifies access tokens; keeps a bounded cache of verified tokens.

    The cache maps the exact token string to its claims (successes only, LRU, at most
    ``verify_cache_size`` entries; 0 disables it). A hit re-checks ``exp``/``nbf`` against the
    clock and that the signing key is still trusted, so a retired key's tokens stop verifying.
    Revocation of the session (``sid``) is the caller's check.
    """

    def __init__(self, keyring: SigningKeyring, clock: Clock, settings: TokenSettings) -> None:
        self._keyring, self._clock, self._settings = keyring, clock, settings
        self._leeway, self._cache_size = settings.leeway_seconds, settings.verify_cache_size
        self._cache: OrderedDict[str, tuple[AccessClaims, str, int]] = OrderedDict()

    def issue(
        self,
        *,
        subject: str,
        session_id: str,
        scopes: Sequence[str],
        amr: Sequence[str],
        not_after: float | None = None,
    ) -> tuple[str, AccessClaims]:
        """Sign a new access token with the newest key; ``exp = iat + access_ttl_seconds``,
        capped at ``not_after`` (the session's end) so no token outlives its session.

        ``jti`` is 128 random bits. Raises :class:`InvalidInput` for an empty or over-long
        subject/session id, or a scope/amr value that is empty or contains whitespace.
        """
        _check_issue_input(subject, session_id, scopes, amr)
        key = self._keyring.signing_key()
        now = int(self._clock.now())
        exp, jti = now + self._settings.access_ttl_seconds, secrets.token_urlsafe(16)
        if not_after is not None:
            exp = max(now + 1, min(exp, int(not_after)))
        claims = AccessClaims(subject, session_id, tuple(scopes), tuple(amr), jti, now, exp)
        body = {
            "iss": self._settings.issuer,
            "aud": self._settings.audience,
            "sub": subject,
            "sid": session_id,
            "iat": now,
            "nbf": now,
            "exp": claims.expires_at,
            "jti": claims.jti,
            "scope": " ".join(claims.scopes),
            "amr": list(claims.amr),
        }
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers = {"kid": key.kid, "typ": TOKEN_TYPE}
        token = _JWS[key.alg].encode(payload, key.private_key, algorithm=key.alg, headers=headers)
        return token, claims

    def verify_cached(self, token: str) -> AccessClaims | None:
        """Claims for a token verified before that is still within ``exp``/``nbf`` and whose
        key is still trusted; ``None`` otherwise (then call :meth:`verify`). Never raises."""
        entry = self._cache.get(token) if type(token) is str else None
        if entry is None:
            return None
        claims, kid, nbf = entry
        now = self._clock.now()
        outside = now >= claims.expires_at + self._leeway or nbf > now + self._leeway
        if outside or not self._keyring.trusts(kid, now):
            self._cache.pop(token, None)
            return None
        try:  # noqa: SIM105 -- contextlib.suppress costs more on this hot path
            self._cache.move_to_end(token)
        except KeyError:  # evicted meanwhile by another thread
            pass
        return claims

    async def verify(self, token: str) -> AccessClaims:
        """Verify an access token: compact JWS of 3 parts, at most 8 KiB, signed by a trusted
        key with its pinned algorithm, ``typ`` at+jwt, required claims present, ``iss``/``aud``
        equal to ours, ``exp``/``nbf``/``iat`` valid at the clock's now (with leeway).

        Fails closed with one opaque :class:`InvalidToken` (``reason`` attribute for audit).
        May raise :class:`~bastion.errors.StorageUnavailable` when an unknown kid forces a
        keyring reload and the database is down.
        """
        claims = self.verify_cached(token)
        if claims is not None:
            return claims
        await self._keyring.reload_if_stale()
        try:
            if type(token) is not str:
                raise _Rejected("malformed")
            unverified_header = _unverified_header(token)
            kid, alg = _header_kid(unverified_header)
            found = self._keyring.verification_key(kid)
            if found is None and await self._keyring.reload_for_unknown_kid():
                found = self._keyring.verification_key(kid)
            if found is None:
                raise _Rejected("unknown_kid")
            pinned, key = found
            if alg != pinned:
                raise _Rejected("alg_mismatch")
            claims, nbf = self._claims(_verify_signature(token, pinned, key))
        except _Rejected as rejected:
            raise invalid_token(str(rejected.args[0])) from None
        self._remember(token, claims, kid, nbf)
        return claims

    def _claims(self, payload: bytes) -> tuple[AccessClaims, int]:
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError):
            raise _Rejected("malformed") from None
        if not isinstance(data, dict):
            raise _Rejected("malformed")
        if any(name not in data for name in REQUIRED_CLAIMS):
            raise _Rejected("missing_claim")
        if data["iss"] != self._settings.issuer:
            raise _Rejected("wrong_issuer")
        if data["aud"] != self._settings.audience:
            raise _Rejected("wrong_audience")
        iat, nbf, exp = (_numeric_date(data, n) for n in ("iat", "nbf", "exp"))
        _check_times(iat, nbf, exp, self._clock.now(), self._leeway)
        scope, amr = data.get("scope", ""), data.get("amr", [])
        if not isinstance(scope, str) or not isinstance(amr, list):
            raise _Rejected("bad_claim")
        if not all(isinstance(v, str) and v for v in amr):
            raise _Rejected("bad_claim")
        sub, sid, jti = _text(data, "sub"), _text(data, "sid"), _text(data, "jti")
        claims = AccessClaims(sub, sid, _shared(scope.split()), _shared(amr), jti, iat, exp)
        return claims, iat if nbf == iat else nbf

    def _remember(self, token: str, claims: AccessClaims, kid: str, nbf: int) -> None:
        if self._cache_size <= 0:
            return
        self._cache[token] = (claims, sys.intern(kid), nbf)  # a trusted kid: one shared string
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
