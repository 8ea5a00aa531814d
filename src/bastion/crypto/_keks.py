"""Key-encryption keys (KEKs): versioned, from a key file, an environment variable or a
PKCS#11 token (``_pkcs11.py``). A KEK only wraps and unwraps data keys (AES-256-GCM, random
nonce, associated data naming the data key), it never encrypts data itself.

Where KEK version ``N`` comes from:

* ``file`` (default): ``<data dir>/keks/kek-N.key``, base64url, mode 0600, generated when the
  version is created (first start for N = 1, ``bastion crypto rotate`` for the next ones).
* ``env``: the variable ``BASTION_KEK_N`` (base64url of 32 random bytes); set the next one
  before ``bastion crypto rotate``.
* ``pkcs11``: the AES-256 secret key labelled ``<label>-N`` in the token, generated inside the
  token (sensitive, not extractable) unless a key with that label already exists.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from bastion.crypto._primitives import NONCE_BYTES, InvalidTag, aesgcm, new_aes256_key
from bastion.errors import ConfigError, DecryptionFailed

__all__ = ["EnvKekSource", "FileKekSource", "Kek", "KekSource", "SoftwareKek"]


class Kek(Protocol):
    version: int

    def wrap(self, key: bytes, aad: bytes) -> bytes:
        """Encrypt a data key: ``nonce || ciphertext || tag``."""
        ...

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        """Reverse :meth:`wrap`; raises :class:`DecryptionFailed` on any mismatch."""
        ...


class KekSource(Protocol):
    name: str

    def where(self, version: int) -> str:
        """Where version ``version`` lives, for messages (never the key itself)."""
        ...

    def load(self, version: int) -> Kek:
        """The existing KEK version; :class:`ConfigError` naming the fix when it is missing."""
        ...

    def create(self, version: int) -> Kek:
        """Make version ``version`` exist (generate it where the source can) and return it."""
        ...

    def close(self) -> None: ...


class SoftwareKek:
    """A KEK held in process memory (file and env sources). ``repr`` never shows it."""

    __slots__ = ("_aead", "version")

    def __init__(self, version: int, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigError(f"KEK version {version} must be 32 bytes (base64url-encoded)")
        self.version = version
        self._aead = aesgcm(key)

    def __repr__(self) -> str:
        return f"SoftwareKek(version={self.version})"

    def wrap(self, key: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, key, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        if len(wrapped) < NONCE_BYTES + 16:
            raise DecryptionFailed
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptionFailed from None


def _decode(text: str, where: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise ConfigError(f"{where} is not valid base64url") from None
    if len(raw) != 32:
        raise ConfigError(f"{where} must hold 32 bytes (base64url-encoded)")
    return raw


class FileKekSource:
    """KEK files ``keks/kek-N.key`` in the data directory, mode 0600."""

    name = "file"

    def __init__(self, data_dir: Path) -> None:
        self._dir = data_dir / "keks"

    def path(self, version: int) -> Path:
        return self._dir / f"kek-{version}.key"

    def where(self, version: int) -> str:
        return f"file {self.path(version)}"

    def load(self, version: int) -> Kek:
        path = self.path(version)
        if not path.exists():
            raise ConfigError(
                f"KEK version {version} is missing: {path} does not exist; restore it from "
                "your key backup"
            )
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
            )
        return SoftwareKek(version, _decode(path.read_text(), str(path)))

    def create(self, version: int) -> Kek:
        path = self.path(version)
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self.load(version)  # another process made it first
        key = new_aes256_key()
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.urlsafe_b64encode(key).decode().rstrip("=") + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return SoftwareKek(version, key)

    def close(self) -> None:
        return None


class EnvKekSource:
    """KEKs in environment variables ``BASTION_KEK_1``, ``BASTION_KEK_2``, ..."""

    name = "env"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ if environ is not None else os.environ

    def where(self, version: int) -> str:
        return f"environment variable BASTION_KEK_{version}"

    def load(self, version: int) -> Kek:
        value = self._environ.get(f"BASTION_KEK_{version}")
        if not value:
            raise ConfigError(
                f"KEK version {version} is missing: set BASTION_KEK_{version} to the base64url "
                'of 32 random bytes (e.g. python -c "import base64,os;'
                'print(base64.urlsafe_b64encode(os.urandom(32)).decode())")'
            )
        return SoftwareKek(version, _decode(value, f"BASTION_KEK_{version}"))

    def create(self, version: int) -> Kek:
        return self.load(version)  # the operator provisions env keys; Bastion cannot

    def close(self) -> None:
        return None
