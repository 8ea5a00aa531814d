"""Token handling for the vulnerable test app: issues EdDSA tokens (HS256 with a weak secret
when ``token.weak-secret`` is planted) and verifies them with one planted bug per flaw."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# Listed in the shared weak-secret list (not among the scanner's built-in guesses), 32 bytes
# so PyJWT does not warn.
WEAK_SECRET = "reallyreallyreallyreallyverysafe"
KID = "k1"


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hmac_ok(signing_input: bytes, signature: bytes, key: bytes) -> bool:
    return hmac.compare_digest(hmac.digest(key, signing_input, hashlib.sha256), signature)


class Tokens:
    def __init__(self, flaws: set[str]) -> None:
        self.flaws = flaws
        self.private = Ed25519PrivateKey.generate()
        self.public = self.private.public_key()
        self.private_pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.public_pem = self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.seen_signatures: set[bytes] = set()

    def jwks(self) -> dict[str, Any]:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": KID, "alg": "EdDSA"}]}

    def issue(self, user: str, sid: str) -> str:
        now = int(time.time())
        claims = {"sub": user, "sid": sid, "iat": now, "exp": now + 900, "scope": "user"}
        if "token.weak-secret" in self.flaws:
            return jwt.encode(claims, WEAK_SECRET, algorithm="HS256")
        return jwt.encode(claims, self.private_pem, algorithm="EdDSA", headers={"kid": KID})

    async def verify(self, token: str) -> dict[str, Any] | None:
        """The claims, or None. Each planted flaw opens one hole; with none it is strict."""
        try:
            head, body, sig = token.split(".")
            header, payload = json.loads(_b64d(head)), json.loads(_b64d(body))
            signature = _b64d(sig)
        except ValueError:
            return None
        signing_input = f"{head}.{body}".encode()
        alg = str(header.get("alg", ""))
        if alg.lower() == "none":
            return payload if "token.alg-none" in self.flaws else None
        if not signature:
            return payload if "token.signature-stripped" in self.flaws else None
        if {"jwk", "jku", "x5u"} & header.keys():
            return await self._foreign_key(header, payload, signing_input, signature)
        kid = header.get("kid")
        if kid not in (None, KID):
            bad_kid = "token.kid-injection" in self.flaws and str(kid).endswith("dev/null")
            return payload if bad_kid and _hmac_ok(signing_input, signature, b"") else None
        if alg == "HS256" and "token.weak-secret" not in self.flaws:
            confused = "token.alg-confusion" in self.flaws
            ok = confused and _hmac_ok(signing_input, signature, self.public_pem)
            return payload if ok else None
        if "token.claims-altered" in self.flaws and signature in self.seen_signatures:
            return payload  # "verified before": a cache keyed by signature only
        return self._strict(token, signature)

    def _strict(self, token: str, signature: bytes) -> dict[str, Any] | None:
        weak = "token.weak-secret" in self.flaws
        options = {
            "verify_exp": "token.expired-accepted" not in self.flaws,
            "verify_nbf": "token.not-yet-valid-accepted" not in self.flaws,
            "verify_iat": "token.not-yet-valid-accepted" not in self.flaws,
            "require": ["exp"],
        }
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                WEAK_SECRET if weak else self.public,
                algorithms=["HS256"] if weak else ["EdDSA"],
                options=options,  # type: ignore[arg-type]
            )
        except jwt.PyJWTError:
            return None
        self.seen_signatures.add(signature)
        return claims

    async def _foreign_key(
        self, header: dict[str, Any], payload: dict[str, Any], signing_input: bytes, sig: bytes
    ) -> dict[str, Any] | None:
        if "token.jku-injection" not in self.flaws:
            return None
        jwk = header.get("jwk")
        if jwk is None and "jku" in header:
            async with httpx.AsyncClient(timeout=5) as client:
                keys = (await client.get(header["jku"])).json()["keys"]
            jwk = next((k for k in keys if k.get("kid") == header.get("kid")), None)
        if not isinstance(jwk, dict) or jwk.get("kty") != "oct":
            return None
        return payload if _hmac_ok(signing_input, sig, _b64d(jwk["k"])) else None
