"""The master key: creation, file permissions, env form, sealed values (ASVS V11.*, V13.3.x)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from bastion.crypto import DecryptionFailed, MasterKey, load_or_create_master_key
from bastion.errors import ConfigError


def test_created_once_with_mode_0600(tmp_path: Path) -> None:
    """ASVS V13.3.1: the generated key file is readable by its owner only."""
    first = load_or_create_master_key(tmp_path / "d")
    path = tmp_path / "d" / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_master_key(tmp_path / "d").kid == first.kid


def test_refuses_a_key_file_others_can_read(tmp_path: Path) -> None:
    load_or_create_master_key(tmp_path)
    os.chmod(tmp_path / "master.key", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create_master_key(tmp_path)


def test_env_form_and_bad_values(tmp_path: Path) -> None:
    raw = os.urandom(32)
    env = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert load_or_create_master_key(tmp_path, env).kid == MasterKey(raw).kid
    assert not (tmp_path / "master.key").exists()
    for bad in ("c2hvcnQ", "!!!not base64!!!"):
        with pytest.raises(ConfigError):
            load_or_create_master_key(tmp_path, bad)


def test_repr_hides_the_key() -> None:
    key = MasterKey(b"\x42" * 32)
    assert "42" * 4 not in repr(key) and "B" * 8 not in repr(key)


def test_sealed_values_are_bound_to_purpose_and_context() -> None:
    """ASVS V11.3.3: AEAD with associated data; moved ciphertexts do not open."""
    key = MasterKey(os.urandom(32))
    sealed = key.seal(b"secret", purpose="p/v1", context="user-1")
    assert key.open(sealed, purpose="p/v1", context="user-1") == b"secret"
    for purpose, context in (("p/v1", "user-2"), ("q/v1", "user-1")):
        with pytest.raises(DecryptionFailed):
            key.open(sealed, purpose=purpose, context=context)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(DecryptionFailed):
        key.open(tampered, purpose="p/v1", context="user-1")
    with pytest.raises(DecryptionFailed):
        key.open(b"short", purpose="p/v1", context="user-1")
    assert key.seal(b"secret", purpose="p/v1", context="user-1") != sealed  # fresh nonce


def test_subkeys_differ_per_purpose() -> None:
    key = MasterKey(os.urandom(32))
    assert key.derive("a/v1") != key.derive("b/v1") and len(key.derive("a/v1")) == 32
