"""Crypto-shredding: a shredded subject's values stay unreadable in copies of the data
database taken before the shred, after an older key-store backup is restored, and on other
replicas (ASVS V14.2.4; privacy erasure)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, LargeBinary, MetaData, String, Table, delete, insert, select, text

from bastion import Bastion
from bastion.crypto._keystore_schema import deks, tombstones
from bastion.errors import ShreddedSubject
from bastion.infra import Database, ManualClock
from bastion.infra.schema import audit_events
from tests.crypto.conftest import crypto_settings, drop_schema


def _notes(name: str) -> Table:
    return Table(
        name,
        MetaData(),
        Column("id", String(32), primary_key=True),
        Column("subject", String(64), nullable=False),
        Column("blob", LargeBinary, nullable=False),
    )


async def _write_notes(guard: Bastion, table: Table) -> None:
    async with guard.db.begin() as conn:
        await conn.run_sync(table.metadata.create_all)
    for record, subject in (("1", "u1"), ("2", "u1"), ("3", "u2")):
        blob = await guard.crypto.encrypt(
            f"note {record}".encode(), subject=subject, context=f"notes.body:{record}"
        )
        async with guard.db.begin() as conn:
            await conn.execute(insert(table).values(id=record, subject=subject, blob=blob))


async def _read_notes(guard: Bastion, db: Database, table: Table) -> dict[str, Any]:
    async with db.connect() as conn:
        rows = (await conn.execute(select(table))).all()
    seen: dict[str, Any] = {}
    for row in rows:
        try:
            seen[row.id] = await guard.crypto.decrypt(
                row.blob, subject=row.subject, context=f"notes.body:{row.id}"
            )
        except ShreddedSubject:
            seen[row.id] = "shredded"
    return seen


def _sqlite_copy(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        src.close()
        dst.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_copy_of_the_data_taken_before_the_shred_stays_unreadable(
    backend: str, tmp_path: Path
) -> None:
    settings, url = await crypto_settings(backend, tmp_path)
    table = _notes(f"notes_{uuid.uuid4().hex[:8]}")
    copy = _notes(table.name + "_copy")
    guard = await Bastion.open(settings, clock=ManualClock())
    try:
        await _write_notes(guard, table)
        if backend == "sqlite":  # a backup of the whole data database file
            _sqlite_copy(tmp_path / "bastion.db", tmp_path / "copy.db")
        else:  # a snapshot of the rows in the same PostgreSQL database
            async with guard.db.begin() as conn:
                await conn.execute(
                    text(f"CREATE TABLE {copy.name} AS SELECT * FROM {table.name}")  # noqa: S608
                )
        assert await guard.crypto.shred("u1") == 1
    finally:
        await guard.close()
    reopened = await Bastion.open(settings, clock=ManualClock())  # nothing cached
    copy_db = Database(f"sqlite+aiosqlite:///{tmp_path / 'copy.db'}") if url is None else None
    try:
        seen = await _read_notes(reopened, copy_db or reopened.db, table if copy_db else copy)
        assert seen == {"1": "shredded", "2": "shredded", "3": b"note 3"}
    finally:
        if copy_db is not None:
            await copy_db.close()
        else:
            async with reopened.db.begin() as conn:
                await conn.execute(text(f"DROP TABLE {table.name}, {copy.name}"))
        await reopened.close()
        if url:
            await drop_schema(url, settings.crypto.keystore_schema)


def _restore_sqlite_keystore(tmp_path: Path, backup: Path) -> None:
    live = tmp_path / "data" / "keystore.db"
    for suffix in ("-wal", "-shm"):
        Path(str(live) + suffix).unlink(missing_ok=True)
    shutil.copy(backup, live)


@pytest.mark.parametrize("lose_file", [False, True], ids=["with-file", "audit-only"])
async def test_an_older_key_store_backup_is_shredded_again_on_start(
    tmp_path: Path, lose_file: bool
) -> None:
    settings, _ = await crypto_settings("sqlite", tmp_path)
    table = _notes("notes")
    guard = await Bastion.open(settings, clock=ManualClock())
    try:
        await _write_notes(guard, table)
        _sqlite_copy(tmp_path / "data" / "keystore.db", tmp_path / "keystore-backup.db")
        await guard.crypto.shred("u1")
    finally:
        await guard.close()
    _restore_sqlite_keystore(tmp_path, tmp_path / "keystore-backup.db")
    if lose_file:  # the tombstone file is gone too: the audit log still knows
        (tmp_path / "data" / "crypto-tombstones.log").unlink()
    reopened = await Bastion.open(settings, clock=ManualClock())
    try:
        assert await _read_notes(reopened, reopened.db, table) == {
            "1": "shredded",
            "2": "shredded",
            "3": b"note 3",
        }
        async with reopened.crypto.store.begin() as conn:
            left = (await conn.execute(select(deks.c.subject_key))).scalars().all()
        assert left == [reopened.crypto.subject_key("u2")]
        async with reopened.db.connect() as conn:
            actions = (await conn.execute(select(audit_events.c.action))).scalars().all()
        assert "crypto.tombstone.reapply" in actions
        assert reopened.crypto.tombstone_file.read() == {reopened.crypto.subject_key("u1")}
    finally:
        await reopened.close()


async def test_an_older_postgres_key_store_is_shredded_again_on_start(tmp_path: Path) -> None:
    settings, url = await crypto_settings("postgres", tmp_path)
    assert url is not None
    table = _notes(f"notes_{uuid.uuid4().hex[:8]}")
    guard = await Bastion.open(settings, clock=ManualClock())
    try:
        await _write_notes(guard, table)
        async with guard.crypto.store.begin() as conn:
            saved = [dict(r._mapping) for r in (await conn.execute(select(deks))).all()]
        await guard.crypto.shred("u1")
        async with guard.crypto.store.begin() as conn:  # "restore" the older key store
            await conn.execute(delete(deks))
            await conn.execute(delete(tombstones))
            await conn.execute(insert(deks), saved)
    finally:
        await guard.close()
    reopened = await Bastion.open(settings, clock=ManualClock())
    try:
        seen = await _read_notes(reopened, reopened.db, table)
        assert seen == {"1": "shredded", "2": "shredded", "3": b"note 3"}
    finally:
        async with reopened.db.begin() as conn:
            await conn.execute(text(f"DROP TABLE {table.name}"))
        await reopened.close()
        await drop_schema(url, settings.crypto.keystore_schema)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_other_replicas_stop_decrypting(backend: str, tmp_path: Path) -> None:
    """With Redis the notice arrives by pub/sub; without it, within the cache TTL."""
    settings, url = await crypto_settings(backend, tmp_path)
    clock = ManualClock()
    one = await Bastion.open(settings, clock=clock)
    two = await Bastion.open(settings, clock=clock)
    try:
        blob = await one.crypto.encrypt(b"v", subject="u1", context="notes.body:1")
        assert await two.crypto.decrypt(blob, subject="u1", context="notes.body:1") == b"v"
        await one.crypto.shred("u1")
        if url is None:
            clock.advance(settings.crypto.dek_cache_ttl_seconds)
        else:
            for _ in range(200):  # wait for the pub/sub delivery, not for a timer
                if two.crypto.is_shredded("u1"):
                    break
                await asyncio.sleep(0.01)
        with pytest.raises(ShreddedSubject):
            await two.crypto.decrypt(blob, subject="u1", context="notes.body:1")
        with pytest.raises(ShreddedSubject):
            await two.crypto.encrypt(b"v", subject="u1", context="notes.body:1")
    finally:
        await one.close()
        await two.close()
        if url:
            await drop_schema(url, settings.crypto.keystore_schema)


async def test_shred_is_audited_with_the_subject(guard: Bastion) -> None:
    await guard.crypto.encrypt(b"v", subject="u1", context="notes.body:1")
    await guard.crypto.shred("u1", actor="cli")
    async with guard.db.connect() as conn:
        row = (
            await conn.execute(
                select(audit_events).where(audit_events.c.action == "crypto.subject.shred")
            )
        ).one()
    assert (row.outcome, row.subject, row.actor) == ("success", "u1", "cli")
    assert '"deks":1' in row.details
