"""The SQL vault store on SQLite and PostgreSQL: one row per subject and field, atomic
upsert with versions, lookup by (field, blind index), the write hook in the transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.infra import Database
from bastion.infra.schema import vault_entries
from bastion.vault import SqlVaultStore

BLOB = b"\x01opaque ciphertext bytes"


class Hook:
    """A recording ``then`` hook; with ``fail`` it raises inside the transaction."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail

    async def __call__(self, conn: AsyncConnection, n: int) -> None:
        self.calls.append(n)
        if self.fail:
            raise RuntimeError("audit append failed")


async def test_put_inserts_then_replaces_with_growing_versions(any_db: Database) -> None:
    store, hook = SqlVaultStore(any_db), Hook()
    first = await store.put("u1", "phone", BLOB, "ab" * 16, 100.0, hook)
    assert (first.version, first.created_at, first.updated_at, first.indexed) == (
        1, 100.0, 100.0, True,
    )  # fmt: skip
    second = await store.put("u1", "phone", b"new", None, 200.0, hook)
    assert (second.version, second.created_at, second.updated_at, second.indexed) == (
        2, 100.0, 200.0, False,
    )  # fmt: skip
    assert hook.calls == [1, 2]
    stored = await store.get("u1", "phone")
    assert stored is not None and stored.ciphertext == b"new" and stored.blind_index is None
    async with any_db.connect() as conn:
        rows = (await conn.execute(select(vault_entries))).all()
    assert len(rows) == 1, "one row per subject and field"


async def test_a_failing_hook_rolls_the_write_back(any_db: Database) -> None:
    """ASVS V2.3.3: the change and its audit event commit together or not at all."""
    store = SqlVaultStore(any_db)
    with pytest.raises(RuntimeError):
        await store.put("u1", "phone", BLOB, None, 1.0, Hook(fail=True))
    assert await store.get("u1", "phone") is None
    await store.put("u1", "phone", BLOB, None, 1.0, Hook())
    with pytest.raises(RuntimeError):
        await store.delete("u1", "phone", Hook(fail=True))
    with pytest.raises(RuntimeError):
        await store.delete_subject("u1", Hook(fail=True))
    assert await store.get("u1", "phone") is not None


async def test_find_uses_field_and_index_only(any_db: Database) -> None:
    store, hook = SqlVaultStore(any_db), Hook()
    idx = "11" * 16
    await store.put("u2", "phone", BLOB, idx, 1.0, hook)
    await store.put("u1", "phone", BLOB, idx, 1.0, hook)
    await store.put("u3", "backup_phone", BLOB, idx, 1.0, hook)
    await store.put("u4", "phone", BLOB, "22" * 16, 1.0, hook)
    assert await store.find("phone", idx, 10) == ["u1", "u2"]
    assert await store.find("phone", idx, 1) == ["u1"]
    assert await store.find("email", idx, 10) == []


async def test_delete_and_delete_subject(any_db: Database) -> None:
    store, hook = SqlVaultStore(any_db), Hook()
    for field in ("phone", "email", "address"):
        await store.put("u1", field, BLOB, None, 1.0, hook)
    await store.put("u2", "phone", BLOB, None, 1.0, hook)
    assert await store.delete("u1", "phone", hook) is True
    assert await store.delete("u1", "phone", hook) is False
    assert [e.field for e in await store.entries("u1")] == ["address", "email"]
    hook.calls.clear()
    assert await store.delete_subject("u1", hook) == 2
    assert await store.delete_subject("u1", hook) == 0
    assert hook.calls == [2, 0]
    assert await store.entries("u1") == []
    assert [e.subject for e in await store.entries("u2")] == ["u2"]


async def test_batch_and_conditional_replace(any_db: Database) -> None:
    store, hook = SqlVaultStore(any_db), Hook()
    for n in range(5):
        await store.put(f"u{n}", "phone", BLOB, None, 1.0, hook)
    seen, after = [], ""
    while rows := await store.batch(after, 2):
        seen += rows
        after = rows[-1].id
    assert len(seen) == 5 and [r.id for r in seen] == sorted(r.id for r in seen)
    row = seen[0]
    assert await store.replace(row.id, row.entry.version, b"rewrapped", "33" * 16) is True
    assert await store.replace(row.id, row.entry.version + 1, b"stale", None) is False
    again = await store.get(row.entry.subject, "phone")
    assert again is not None and again.ciphertext == b"rewrapped"
    assert again.entry.version == row.entry.version and again.blind_index == "33" * 16
