"""Asymmetric signing keys for access tokens: the only place they touch ``cryptography.hazmat``.

Two algorithms, each pinned to one key type: ``EdDSA`` (Ed25519) and ``ES256`` (P-256).
Private keys come from the OS CSPRNG (inside ``cryptography``) and leave this module only as
key objects or as unencrypted PKCS#8 PEM for the caller to seal at once. Public keys are
exported as RFC 7517 JWKs, named by their RFC 7638 thumbprint, and imported back from JWKs
with every member checked (fails closed with :class:`~bastion.errors.InvalidInput`). For
storage, private keys are sealed with the master key under ``bastion/signing-key/v1`` with the
kid as associated data, and both halves are re-checked against the kid when read back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bastion.crypto._master import DecryptionFailed, MasterKey
from bastion.errors import InvalidInput

__all__ = [
    "SIGNING_ALGORITHMS",
    "SIGNING_KEY_PURPOSE",
    "SigningPrivateKey",
    "SigningPublicKey",
    "algorithm_of",
    "generate_signing_key",
    "jwk_thumbprint",
    "open_signing_key",
    "private_key_from_pem",
    "private_key_to_pem",
    "public_jwk",
    "public_key_from_jwk",
    "seal_signing_key",
    "stored_public_key",
]

SigningPrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
SigningPublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey
SIGNING_ALGORITHMS: tuple[str, ...] = ("EdDSA", "ES256")
SIGNING_KEY_PURPOSE = "bastion/signing-key/v1"
_COORD = 32  # bytes in an Ed25519 public key and in a P-256 coordinate
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64u(text: object, name: str) -> bytes:
    if not isinstance(text, str) or not text.isascii() or "=" in text:
        raise InvalidInput(f"JWK member '{name}' is not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput(f"JWK member '{name}' is not base64url") from None
    if _b64u(raw) != text:
        raise InvalidInput(f"JWK member '{name}' is not canonical base64url")
    return raw


def generate_signing_key(alg: str) -> SigningPrivateKey:
    """A new private key for ``alg`` ("EdDSA" -> Ed25519, "ES256" -> P-256), from the OS CSPRNG.

    Raises :class:`InvalidInput` for any other algorithm.
    """
    if alg == "EdDSA":
        return Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise InvalidInput("unsupported signing algorithm")


def algorithm_of(key: SigningPrivateKey | SigningPublicKey) -> str:
    """The one JWS algorithm a key may be used with; :class:`InvalidInput` for other keys."""
    if isinstance(key, Ed25519PrivateKey | Ed25519PublicKey):
        return "EdDSA"
    ec_types = ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey
    if isinstance(key, ec_types) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise InvalidInput("unsupported signing key type")


def private_key_to_pem(key: SigningPrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM. The caller must seal it before it is stored anywhere."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(pem: bytes, alg: str) -> SigningPrivateKey:
    """Load a PKCS#8 PEM private key and check it is the key type pinned to ``alg``.

    Raises :class:`InvalidInput` when the PEM does not parse or holds another key type.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise InvalidInput("the signing key could not be loaded") from None
    if not isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise InvalidInput("unsupported signing key type")
    if algorithm_of(key) != alg:
        raise InvalidInput("the signing key does not match its algorithm")
    return key


def public_jwk(key: SigningPublicKey) -> dict[str, str]:
    """The RFC 7517 public JWK members (``kty``, ``crv``, ``x`` [, ``y``]); no ``kid``/``alg``."""
    if isinstance(key, Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64u(raw)}
    algorithm_of(key)  # P-256 only
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64u(numbers.x.to_bytes(_COORD, "big")),
        "y": _b64u(numbers.y.to_bytes(_COORD, "big")),
    }


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint: base64url SHA-256 of the required members in lexicographic order."""
    required = ("crv", "kty", "x") if jwk.get("kty") == "OKP" else ("crv", "kty", "x", "y")
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return _b64u(hashlib.sha256(canonical.encode("utf-8")).digest())


def _check_usage(jwk: Mapping[str, Any], alg: str) -> None:
    if _PRIVATE_MEMBERS & jwk.keys():
        raise InvalidInput("a verification JWK must not hold private key material")
    if jwk.get("use", "sig") != "sig":
        raise InvalidInput("the JWK is not a signature key (use)")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise InvalidInput("the JWK may not be used to verify (key_ops)")
    if jwk.get("alg", alg) != alg:
        raise InvalidInput("the JWK 'alg' does not match its key type")


def public_key_from_jwk(jwk: Mapping[str, Any]) -> tuple[str, SigningPublicKey]:
    """Import a public Ed25519 (OKP) or P-256 (EC) JWK; returns ``(alg, public_key)``.

    Fails closed: rejects other key types and curves, private members (``d`` ...), a ``use``
    other than ``sig``, ``key_ops`` without ``verify``, an ``alg`` that does not match the key
    type, non-canonical base64url, wrong lengths and points not on the curve.
    Raises :class:`InvalidInput`.
    """
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        _check_usage(jwk, "EdDSA")
        raw = _unb64u(jwk.get("x"), "x")
        if len(raw) != _COORD:
            raise InvalidInput("JWK member 'x' has the wrong length")
        return "EdDSA", Ed25519PublicKey.from_public_bytes(raw)
    if kty == "EC" and crv == "P-256":
        _check_usage(jwk, "ES256")
        x, y = _unb64u(jwk.get("x"), "x"), _unb64u(jwk.get("y"), "y")
        if len(x) != _COORD or len(y) != _COORD:
            raise InvalidInput("JWK coordinates have the wrong length")
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        )
        try:
            return "ES256", numbers.public_key()
        except ValueError:
            raise InvalidInput("the JWK point is not on the P-256 curve") from None
    raise InvalidInput("unsupported JWK key type (only OKP/Ed25519 and EC/P-256)")


def seal_signing_key(master: MasterKey, key: SigningPrivateKey) -> tuple[str, bytes, str]:
    """``(kid, sealed private key, public JWK as JSON)`` for storage: the PKCS#8 PEM is sealed
    at once under the master key, bound to the kid (no plaintext at rest)."""
    jwk = public_jwk(key.public_key())
    kid = jwk_thumbprint(jwk)
    sealed = master.seal(private_key_to_pem(key), purpose=SIGNING_KEY_PURPOSE, context=kid)
    return kid, sealed, json.dumps(jwk, separators=(",", ":"), sort_keys=True)


def open_signing_key(master: MasterKey, sealed: bytes, kid: str, alg: str) -> SigningPrivateKey:
    """Open what :func:`seal_signing_key` stored and check the key is ``alg``'s type and that
    its thumbprint is ``kid``. Raises :class:`InvalidInput` on any mismatch or tampering."""
    try:
        pem = master.open(sealed, purpose=SIGNING_KEY_PURPOSE, context=kid)
    except DecryptionFailed:
        raise InvalidInput("the signing key cannot be opened with this master key") from None
    key = private_key_from_pem(pem, alg)
    if jwk_thumbprint(public_jwk(key.public_key())) != kid:
        raise InvalidInput("the signing key does not match its kid")
    return key


def stored_public_key(jwk_json: str, kid: str, alg: str) -> SigningPublicKey:
    """Parse a stored public JWK and check its type is ``alg``'s and its thumbprint is ``kid``.

    Raises :class:`InvalidInput`.
    """
    try:
        jwk = json.loads(jwk_json)
    except ValueError:
        raise InvalidInput("the stored JWK is not JSON") from None
    if not isinstance(jwk, dict):
        raise InvalidInput("the stored JWK is not an object")
    key_alg, key = public_key_from_jwk(jwk)
    if key_alg != alg or jwk_thumbprint(public_jwk(key)) != kid:
        raise InvalidInput("the stored JWK does not match its kid and alg")
    return key
