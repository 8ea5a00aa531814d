"""The vault as a re-encryption source of ``guard.crypto`` (``bastion crypto reencrypt``), and
the walk that recomputes blind indexes after ``[vault] lookup_fields`` or a normaliser changed.

Both walk ``vault_entries`` in id order, batch by batch, and write a row back only if it was
not written since it was read (same ``version``): a concurrent ``put`` always wins."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bastion.errors import DecryptionFailed, InvalidVaultValue, ShreddedSubject
from bastion.vault._store import VaultStore
from bastion.vault._types import Encryptor, StoredEntry, context_for

__all__ = ["VaultSource", "reindex"]

BATCH = 500


class Recrypt(Protocol):
    async def __call__(self, blob: bytes, *, subject: str, context: str) -> bytes | None: ...


async def _walk(store: VaultStore, visit: Callable[[StoredEntry], Awaitable[bool]]) -> int:
    changed, after = 0, ""
    while rows := await store.batch(after, BATCH):
        for row in rows:
            changed += int(await visit(row))
        after = rows[-1].id
    return changed


class VaultSource:
    """``guard.crypto.register(VaultSource(store))``: every vault value re-encrypted under a
    fresh data key of its subject, its blind index unchanged."""

    name = "vault"

    def __init__(self, store: VaultStore) -> None:
        self._store = store

    async def reencrypt(self, recrypt: Recrypt) -> int:
        async def visit(row: StoredEntry) -> bool:
            entry = row.entry
            context = context_for(entry.subject, entry.field)
            fresh = await recrypt(row.ciphertext, subject=entry.subject, context=context)
            if fresh is None:
                return False
            return await self._store.replace(row.id, entry.version, fresh, row.blind_index)

        return await _walk(self._store, visit)


async def reindex(
    store: VaultStore, crypto: Encryptor, index_of: Callable[[str, str], str | None]
) -> int:
    """Recompute every row's blind index with ``index_of(field, value)``; returns how many
    changed. Rows of shredded subjects, undecryptable rows and values the field's normaliser
    now refuses are left as they are (the last lose their index: they can no longer match)."""

    async def visit(row: StoredEntry) -> bool:
        entry = row.entry
        context = context_for(entry.subject, entry.field)
        try:
            plain = await crypto.decrypt(row.ciphertext, subject=entry.subject, context=context)
        except (ShreddedSubject, DecryptionFailed):
            return False
        try:
            index = index_of(entry.field, plain.decode("utf-8"))
        except InvalidVaultValue:
            index = None
        if index == row.blind_index:
            return False
        return await store.replace(row.id, entry.version, row.ciphertext, index)

    return await _walk(store, visit)
