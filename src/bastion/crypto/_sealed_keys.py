"""The server's sealing (X25519) and response-signing (Ed25519) keys, and their public document.

Both are derived from the master key with HKDF under a versioned purpose label per key
*generation* (``bastion/sealing/x25519/v1/g<N>``, ``bastion/sealing/ed25519/v1/g<N>``), so every
replica with the same master key has the same keys and nothing is stored. Raising
``[sealing] key_generation`` rolls both keys; the previous generation stays published and
accepted (``keep_previous``) so clients holding the old document keep working.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from bastion.crypto._master import MasterKey
from bastion.crypto._sealed_primitives import (
    SealPrivateKey,
    SignPrivateKey,
    seal_key_from_seed,
    sign_key_from_seed,
)
from bastion.errors import ConfigError

__all__ = ["HPKE_ALG", "SealingKeys", "b64url", "kid_for", "public_keys", "unb64url"]

HPKE_ALG: Final = "HPKE-Base-X25519-SHA256-AES256GCM"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Strict unpadded base64url; ``ValueError`` otherwise."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(raw) != text:
        raise ValueError("not canonical unpadded base64url")
    return raw


def kid_for(use: str, generation: int, public: bytes) -> str:
    """``seal<N>-`` or ``sig<N>-`` and 10 characters of the public key's SHA-256."""
    return f"{use}{generation}-{b64url(hashlib.sha256(public).digest())[:10]}"


@dataclass(frozen=True, slots=True)
class _Generation:
    number: int
    seal_kid: str
    seal: SealPrivateKey
    sign_kid: str
    sign: SignPrivateKey


def _derive(master: MasterKey, number: int) -> _Generation:
    seal = seal_key_from_seed(master.derive(f"bastion/sealing/x25519/v1/g{number}"))
    sign = sign_key_from_seed(master.derive(f"bastion/sealing/ed25519/v1/g{number}"))
    return _Generation(
        number,
        kid_for("seal", number, seal.public),
        seal,
        kid_for("sig", number, sign.public),
        sign,
    )


class SealingKeys:
    """Current generation first; every listed generation opens and verifies, the current one
    is the one clients seal to and the server signs with."""

    __slots__ = ("_by_seal_kid", "_by_sign_kid", "generations")

    def __init__(self, master: MasterKey, *, generation: int = 1, keep_previous: bool = True):
        if generation < 1:
            raise ConfigError("[sealing] key_generation must be at least 1")
        numbers = [generation] + ([generation - 1] if keep_previous and generation > 1 else [])
        self.generations = tuple(_derive(master, n) for n in numbers)
        self._by_seal_kid = {g.seal_kid: g.seal for g in self.generations}
        self._by_sign_kid = {g.sign_kid: g.sign.public for g in self.generations}

    def __repr__(self) -> str:
        return f"SealingKeys(generations={[g.number for g in self.generations]})"

    def seal_key(self, kid: str) -> SealPrivateKey | None:
        """The private sealing key for ``kid``, or None for a kid this server does not hold."""
        return self._by_seal_kid.get(kid)

    @property
    def signer(self) -> tuple[str, SignPrivateKey]:
        current = self.generations[0]
        return current.sign_kid, current.sign

    def document(self) -> dict[str, Any]:
        """The public key document served at ``/.well-known/bastion-keys`` (JWK set shape)."""
        keys: list[dict[str, str]] = []
        for g in self.generations:
            status = "current" if g is self.generations[0] else "previous"
            keys.append(_jwk(g.seal_kid, "enc", "X25519", HPKE_ALG, g.seal.public, status))
            keys.append(_jwk(g.sign_kid, "sig", "Ed25519", "EdDSA", g.sign.public, status))
        keys.sort(key=lambda k: (k["use"] != "enc", k["status"] != "current"))
        return {"keys": keys}


def _jwk(kid: str, use: str, crv: str, alg: str, public: bytes, status: str) -> dict[str, str]:
    return {
        "kid": kid,
        "use": use,
        "kty": "OKP",
        "crv": crv,
        "alg": alg,
        "x": b64url(public),
        "status": status,
    }


def public_keys(document: Mapping[str, Any], use: str) -> list[tuple[str, bytes]]:
    """``(kid, raw public key)`` of a key document's entries for ``use``, in document order.

    Entries that are not well-formed OKP keys for ``use`` are skipped; ``ValueError`` when
    none is left (the document cannot be used)."""
    crv = {"enc": "X25519", "sig": "Ed25519"}[use]
    found: list[tuple[str, bytes]] = []
    entries = document.get("keys") if isinstance(document, Mapping) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping) or entry.get("use") != use or entry.get("crv") != crv:
            continue
        kid, x = entry.get("kid"), entry.get("x")
        if entry.get("kty") != "OKP" or not isinstance(kid, str) or not isinstance(x, str):
            continue
        try:
            raw = unb64url(x)
        except ValueError:
            continue
        if len(raw) == 32:
            found.append((kid, raw))
    if not found:
        raise ValueError(f"the key document has no usable {crv} key")
    return found
