"""Values the vault hands around, and what it needs from the crypto service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Encryptor", "StoredEntry", "VaultEntry", "context_for"]


def context_for(subject: str, field: str) -> str:
    """The associated data a vault ciphertext is bound to: ``vault:<field>:<subject>``.

    Field names contain no ``:``, so the string is unambiguous; a ciphertext copied to another
    subject or field does not decrypt."""
    return f"vault:{field}:{subject}"


class Encryptor(Protocol):
    """Envelope encryption with per-subject data keys (``guard.crypto``)."""

    async def encrypt(self, plaintext: bytes, *, subject: str, context: str) -> bytes: ...

    async def decrypt(self, blob: bytes, *, subject: str, context: str) -> bytes: ...

    async def shred(self, subject: str, *, actor: str | None = None) -> object: ...

    def is_shredded(self, subject: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class VaultEntry:
    """What is known about a stored value without decrypting it."""

    subject: str
    field: str
    version: int
    created_at: float
    updated_at: float
    indexed: bool


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """A row as stored: the ciphertext and blind index with the entry's metadata."""

    id: str
    entry: VaultEntry
    ciphertext: bytes
    blind_index: str | None
