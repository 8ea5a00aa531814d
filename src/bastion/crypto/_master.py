"""The master key: loaded from ``BASTION_MASTER_KEY`` or a 0600 key file, created on first start.

Subkeys are derived per purpose with HKDF and a versioned label, so no key serves two purposes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from pathlib import Path

from bastion.crypto._primitives import InvalidTag, aesgcm_open, aesgcm_seal, hkdf_sha256
from bastion.errors import ConfigError, DecryptionFailed

__all__ = ["DecryptionFailed", "MasterKey", "load_or_create_master_key"]

KEY_FILE = "master.key"
KEY_BYTES = 32


class MasterKey:
    """The key-encryption key. ``repr`` never shows it."""

    __slots__ = ("_key", "kid")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigError("the master key must be 32 bytes (base64url-encoded)")
        self._key = key
        self.kid = hashlib.sha256(b"bastion/kid/v1" + key).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"MasterKey(kid={self.kid!r})"

    def derive(self, purpose: str) -> bytes:
        """A 256-bit subkey for one purpose label such as ``"bastion/audit-chain/v1"``."""
        return hkdf_sha256(self._key, purpose.encode("ascii"))

    def seal(self, plaintext: bytes, *, purpose: str, context: str) -> bytes:
        """AES-256-GCM under the purpose subkey; ``context`` is bound as associated data."""
        return aesgcm_seal(self.derive(purpose), plaintext, context.encode())

    def open(self, sealed: bytes, *, purpose: str, context: str) -> bytes:
        """Open what :meth:`seal` made; raises :class:`DecryptionFailed` on any mismatch."""
        try:
            return aesgcm_open(self.derive(purpose), sealed, context.encode())
        except InvalidTag:
            raise DecryptionFailed from None

    def mac(self, purpose: str, data: bytes) -> bytes:
        """HMAC-SHA256 of ``data`` under the purpose subkey."""
        return hmac.new(self.derive(purpose), data, hashlib.sha256).digest()


def _decode(text: str) -> bytes:
    text = text.strip()
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise ConfigError("the master key is not valid base64url") from None


def load_or_create_master_key(data_dir: Path, from_env: str | None = None) -> MasterKey:
    """Use ``from_env`` when given; else read ``data_dir/master.key``, creating it (mode 0600).

    Refuses a key file that others can read (fails closed, names the fix).
    """
    if from_env:
        return MasterKey(_decode(from_env))
    path = data_dir / KEY_FILE
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
            )
        return MasterKey(_decode(path.read_text()))
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = os.urandom(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.urlsafe_b64encode(key).decode().rstrip("=") + "\n")
    return MasterKey(key)
