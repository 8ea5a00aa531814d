"""KEKs inside a PKCS#11 token (an HSM; SoftHSM2 in tests), through ``python-pkcs11``.

KEK version N is the token's AES-256 secret key labelled ``<label>-N``. Bastion generates it
inside the token (``CKA_SENSITIVE``, not extractable, encrypt/decrypt only) unless a key with
that label already exists (made in a key ceremony). Data keys are wrapped with ``CKM_AES_GCM``
inside the token, with a random 96-bit nonce from this process and the same associated data
as the software KEKs: the KEK never leaves the token.
"""

from __future__ import annotations

import os
from typing import Any

from bastion.crypto._primitives import NONCE_BYTES
from bastion.errors import ConfigError, DecryptionFailed

__all__ = ["Pkcs11KekSource"]


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:  # pragma: no cover - a declared dependency
        raise ConfigError(
            "crypto.kek_provider = 'pkcs11' needs the python-pkcs11 package"
        ) from None
    return pkcs11


class Pkcs11Kek:
    """One AES key object in the token. ``repr`` shows the version only."""

    __slots__ = ("_key", "_params", "version")

    def __init__(self, version: int, key: Any, params: Any) -> None:
        self.version, self._key, self._params = version, key, params

    def __repr__(self) -> str:
        return f"Pkcs11Kek(version={self.version})"

    def wrap(self, key: bytes, aad: bytes) -> bytes:
        pkcs11 = _pkcs11()
        nonce = os.urandom(NONCE_BYTES)
        try:
            sealed = self._key.encrypt(
                key, mechanism=pkcs11.Mechanism.AES_GCM, mechanism_param=self._params(nonce, aad)
            )
        except pkcs11.PKCS11Error as exc:
            raise ConfigError(
                f"the PKCS#11 token refused to wrap a key ({type(exc).__name__})"
            ) from None
        return nonce + bytes(sealed)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        pkcs11 = _pkcs11()
        if len(wrapped) < NONCE_BYTES + 16:
            raise DecryptionFailed
        try:
            return bytes(
                self._key.decrypt(
                    wrapped[NONCE_BYTES:],
                    mechanism=pkcs11.Mechanism.AES_GCM,
                    mechanism_param=self._params(wrapped[:NONCE_BYTES], aad),
                )
            )
        except pkcs11.PKCS11Error:
            raise DecryptionFailed from None


class Pkcs11KekSource:
    """Opens one logged-in session to the token for the life of the service."""

    name = "pkcs11"

    def __init__(self, module: str, token: str, pin: str | None, label: str) -> None:
        if not module:
            raise ConfigError("crypto.pkcs11_module must name the PKCS#11 library (.so)")
        if not pin:
            raise ConfigError("crypto.pkcs11_pin is empty; set BASTION_CRYPTO__PKCS11_PIN")
        pkcs11 = _pkcs11()
        try:
            lib = pkcs11.lib(module)
            self._token = lib.get_token(token_label=token)
            self._session = self._token.open(user_pin=pin, rw=True)
        except (pkcs11.PKCS11Error, RuntimeError, OSError) as exc:
            raise ConfigError(
                f"cannot open PKCS#11 token {token!r} with {module} ({type(exc).__name__}); "
                "check crypto.pkcs11_module, crypto.pkcs11_token and the PIN"
            ) from None
        self._label = label
        self._params = pkcs11.mechanisms.GCMParams

    def where(self, version: int) -> str:
        return f"PKCS#11 key {self._label}-{version}"

    def _find(self, version: int) -> Any | None:
        pkcs11 = _pkcs11()
        try:
            return self._session.get_key(
                object_class=pkcs11.ObjectClass.SECRET_KEY, label=f"{self._label}-{version}"
            )
        except pkcs11.NoSuchKey:
            return None
        except pkcs11.MultipleObjectsReturned:
            raise ConfigError(
                f"the token holds several keys labelled {self._label}-{version}"
            ) from None

    def load(self, version: int) -> Pkcs11Kek:
        key = self._find(version)
        if key is None:
            raise ConfigError(
                f"KEK version {version} is missing: no {self.where(version)} in the token"
            )
        return Pkcs11Kek(version, key, self._params)

    def create(self, version: int) -> Pkcs11Kek:
        pkcs11 = _pkcs11()
        key = self._find(version)
        if key is None:
            flags = pkcs11.MechanismFlag.ENCRYPT | pkcs11.MechanismFlag.DECRYPT
            key = self._session.generate_key(
                pkcs11.KeyType.AES,
                256,
                label=f"{self._label}-{version}",
                store=True,
                capabilities=flags,
                template={pkcs11.Attribute.SENSITIVE: True, pkcs11.Attribute.EXTRACTABLE: False},
            )
        return Pkcs11Kek(version, key, self._params)

    def close(self) -> None:
        self._session.close()
