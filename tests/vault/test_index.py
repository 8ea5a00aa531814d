"""Blind indexes: keyed, deterministic, separated by field and normaliser, 128 bits."""

from __future__ import annotations

from bastion.crypto import MasterKey
from bastion.vault import BlindIndex


def test_equal_values_give_equal_indexes_and_nothing_else(master_key: MasterKey) -> None:
    index = BlindIndex(master_key)
    a = index.compute("phone", "phone", "+8613800138000")
    assert a == index.compute("phone", "phone", "+8613800138000")
    assert len(a) == 32 and int(a, 16) >= 0
    assert a != index.compute("phone", "phone", "+8613800138001")


def test_the_field_and_the_normaliser_are_bound(master_key: MasterKey) -> None:
    """The same value in two fields (or under two normalisers) gives unrelated indexes, so
    equality does not leak across fields and a changed normaliser never matches stale rows."""
    index = BlindIndex(master_key)
    base = index.compute("phone", "phone", "+8613800138000")
    assert base != index.compute("backup_phone", "phone", "+8613800138000")
    assert base != index.compute("phone", "exact", "+8613800138000")


def test_the_index_key_is_its_own(master_key: MasterKey) -> None:
    """Another master key gives other indexes; the index is not a plain hash of the value,
    nor an HMAC under any other purpose's key."""
    import hashlib

    ours = BlindIndex(master_key).compute("email", "email", "a@example.com")
    assert ours != BlindIndex(MasterKey(b"\x08" * 32)).compute("email", "email", "a@example.com")
    assert ours not in hashlib.sha256(b"a@example.com").hexdigest()
    message = b"v1\x00email\x00email\x00a@example.com"
    assert ours != master_key.mac("bastion/audit-chain/v1", message)[:16].hex()
    assert ours == master_key.mac("bastion/vault-blind-index/v1", message)[:16].hex()
    assert "key" in repr(BlindIndex(master_key)) and master_key.derive("x").hex() not in repr(
        BlindIndex(master_key)
    )
