"""Blind indexes: equality lookup over encrypted values without decrypting them.

``index = hex(HMAC-SHA256(k_index, "v1" 0 field 0 kind 0 normalised)[:16])``

- ``k_index`` is derived from the master key with its own purpose label
  (``bastion/vault-blind-index/v1``); it is not the key of any ciphertext, so it can compute
  indexes but decrypts nothing.
- The field name and the normaliser kind are in the MAC input: the same phone number in two
  fields gives two unrelated indexes, and changing a field's normaliser cannot make an old
  index match a differently normalised value (it misses, and ``reindex`` repairs it).
- 128 bits are kept (32 hex characters): collisions between different values are negligible,
  so a lookup hit needs no decryption to confirm it.

What it leaks, by design: anyone who reads the table sees which rows of one field hold the same
(normalised) value. Whoever holds ``k_index`` (i.e. the master key) can test guesses offline,
and phone numbers are a small space, so the index is exactly as secret as the master key.
"""

from __future__ import annotations

from bastion.crypto import MasterKey

__all__ = ["INDEX_BYTES", "PURPOSE", "BlindIndex"]

PURPOSE = "bastion/vault-blind-index/v1"
INDEX_BYTES = 16


class BlindIndex:
    """Computes blind indexes under the index key derived from the master key."""

    __slots__ = ("_master",)

    def __init__(self, master: MasterKey) -> None:
        self._master = master

    def __repr__(self) -> str:
        return "BlindIndex(<key hidden>)"

    def compute(self, field: str, kind: str, normalised: str) -> str:
        """The index of a normalised value of ``field`` (normalised with ``kind``).

        Deterministic and keyed: equal inputs give equal indexes, nothing else does (up to
        2^-128); the index reveals nothing about the value without the key."""
        message = b"\x00".join(
            (b"v1", field.encode("ascii"), kind.encode("ascii"), normalised.encode("utf-8"))
        )
        return self._master.mac(PURPOSE, message)[:INDEX_BYTES].hex()
