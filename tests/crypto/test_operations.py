"""Rotation and re-wrap, re-encryption through registered sources, retirement, status
(ASVS V11.1.1, V11.2.2 crypto agility, V2.3.3 all-or-nothing batches)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert, select

from bastion import Bastion
from bastion.crypto._keystore_schema import deks
from bastion.crypto.data import ColumnSource, EncryptedColumn, Plain
from bastion.errors import KekInUse, NotFound, StorageUnavailable
from bastion.infra import ManualClock


async def _write(guard: Bastion, n: int, tag: str = "old") -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        subject = f"u{i}"
        blob = await guard.crypto.encrypt(f"{tag}{i}".encode(), subject=subject, context=f"t.v:{i}")
        out.append((subject, blob))
    return out


async def _check(guard: Bastion, values: list[tuple[str, bytes]], tag: str = "old") -> None:
    for i, (subject, blob) in enumerate(values):
        got = await guard.crypto.decrypt(blob, subject=subject, context=f"t.v:{i}")
        assert got == f"{tag}{i}".encode()


async def _kek_versions(guard: Bastion) -> list[int]:
    async with guard.crypto.store.begin() as conn:
        return sorted(set((await conn.execute(select(deks.c.kek_version))).scalars()))


async def test_rotate_then_read_old_and_new_data(crypto_guard: Bastion) -> None:
    """ASVS V11.2.2: the KEK is replaced without downtime; everything stays readable."""
    crypto = crypto_guard.crypto
    old = await _write(crypto_guard, 12)
    seen: list[tuple[int, int]] = []
    report = await crypto.rotate(batch=5, progress=lambda done, total: seen.append((done, total)))
    assert (report.version, report.resumed, report.rewrapped, report.remaining) == (2, False, 12, 0)
    assert seen[-1] == (12, 12) and len(seen) == 3
    assert await _kek_versions(crypto_guard) == [2]
    new = await _write(crypto_guard, 3, tag="new")
    await _check(crypto_guard, old)
    await _check(crypto_guard, new, tag="new")
    crypto.cache.clear()  # cold: unwrap with KEK 2
    await _check(crypto_guard, old)
    assert (await crypto.rotate()).version == 3


async def test_reads_work_in_the_middle_of_a_rotation(guard: Bastion) -> None:
    crypto = guard.crypto
    values = await _write(guard, 10)
    real = crypto.store.rewrap
    calls = 0

    async def interrupted(updates: list[tuple[str, int, int, bytes]]) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            crypto.cache.clear()  # a reader in the middle: half old, half new KEK
            await _check(guard, values)
            raise StorageUnavailable
        return await real(updates)

    crypto.store.rewrap = interrupted  # type: ignore[method-assign]
    with pytest.raises(StorageUnavailable):
        await crypto.rotate(batch=4)
    crypto.store.rewrap = real  # type: ignore[method-assign]
    assert await _kek_versions(guard) == [1, 2]
    with pytest.raises(KekInUse, match="6 data keys are still wrapped by KEK version 1"):
        await crypto.retire(1)
    report = await crypto.rotate(batch=4)  # resumes instead of adding version 3
    assert (report.version, report.resumed, report.rewrapped) == (2, True, 6)
    assert (await crypto.rotate(batch=4)).rewrapped == 10  # idempotent; a new rotation is full
    await _check(guard, values)


async def test_retire_only_when_nothing_refers(crypto_guard: Bastion) -> None:
    crypto = crypto_guard.crypto
    values = await _write(crypto_guard, 3)
    with pytest.raises(KekInUse, match="current one"):
        await crypto.retire(1)
    with pytest.raises(NotFound):
        await crypto.retire(7)
    await crypto.rotate()
    await crypto.retire(1)
    status = await crypto.status()
    assert [(k["version"], k["state"], k["deks"]) for k in status.keks] == [
        (1, "retired", 0),
        (2, "active", 3),
    ]
    assert status.current_kek == 2 and status.deks == {"active": 3}
    crypto.cache.clear()
    await _check(crypto_guard, values)


async def test_a_wrong_kek_file_is_refused_at_start(tmp_path: Path) -> None:
    from bastion.errors import ConfigError
    from tests.conftest import make_settings

    settings: Any = make_settings(tmp_path)
    guard = await Bastion.open(settings, clock=ManualClock())
    await guard.close()
    key = tmp_path / "data" / "keks" / "kek-1.key"
    key.write_text("A" * 43 + "\n")
    with pytest.raises(ConfigError, match="does not match the key store"):
        await Bastion.open(settings, clock=ManualClock())


async def test_env_provider_needs_the_next_key_before_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import os

    from bastion.errors import ConfigError
    from tests.conftest import make_settings

    monkeypatch.setenv("BASTION_KEK_1", base64.urlsafe_b64encode(os.urandom(32)).decode())
    settings: Any = make_settings(tmp_path, crypto={"kek_provider": "env"})
    guard = await Bastion.open(settings, clock=ManualClock())
    try:
        values = await _write(guard, 2)
        with pytest.raises(ConfigError, match="set BASTION_KEK_2"):
            await guard.crypto.rotate()
        monkeypatch.setenv("BASTION_KEK_2", base64.urlsafe_b64encode(os.urandom(32)).decode())
        assert (await guard.crypto.rotate()).version == 2
        guard.crypto.cache.clear()
        await _check(guard, values)
        assert not (tmp_path / "data" / "keks").exists()
    finally:
        await guard.close()


def _users(guard: Bastion) -> Table:
    return Table(
        "app_users",
        MetaData(),
        Column("id", String(32), primary_key=True),
        Column("subject", String(64), nullable=False),
        Column("phone", EncryptedColumn("app_users.phone", lambda: guard.crypto), nullable=True),
    )


async def _fill(guard: Bastion, table: Table, n: int) -> None:
    async with guard.db.begin() as conn:
        await conn.run_sync(table.metadata.create_all)
        for i in range(n):
            value = Plain(f"+86 {i}".encode(), subject=f"u{i}", record=str(i)) if i != 3 else None
            await conn.execute(insert(table).values(id=str(i), subject=f"u{i}", phone=value))


async def _phones(guard: Bastion, table: Table) -> dict[str, bytes | None]:
    async with guard.db.connect() as conn:
        rows = (await conn.execute(select(table))).all()
    return {
        r.id: None if r.phone is None else await r.phone.decrypt(subject=r.subject, record=r.id)
        for r in rows
    }


async def test_reencrypt_moves_column_values_to_new_keys(
    guard: Bastion, clock: ManualClock
) -> None:
    table = _users(guard)
    await _fill(guard, table, 8)
    before = await _phones(guard, table)
    await guard.crypto.shred("u5")
    clock.advance(1)
    guard.crypto.register(ColumnSource(guard.db, table, "phone", subject_column="subject", batch=3))
    report = await guard.crypto.reencrypt()
    assert (report.rewritten, report.shredded, report.failed) == (6, 1, 0)
    assert report.sources == {"vault": 0, "app_users.phone": 6} and report.retired_deks == 6
    after = await _phones_safe(guard, table)
    assert after == {**before, "5": "shredded"}
    again = await guard.crypto.reencrypt()  # idempotent: everything is current now
    assert (again.rewritten, again.current) == (0, 6)
    assert (await guard.crypto.status()).deks == {"active": 6, "retired": 6}


async def _phones_safe(guard: Bastion, table: Table) -> dict[str, Any]:
    from bastion.errors import ShreddedSubject

    async with guard.db.connect() as conn:
        rows = (await conn.execute(select(table))).all()
    out: dict[str, Any] = {}
    for r in rows:
        try:
            out[r.id] = (
                None if r.phone is None else await r.phone.decrypt(subject=r.subject, record=r.id)
            )
        except ShreddedSubject:
            out[r.id] = "shredded"
    return out


async def test_a_failing_batch_rolls_back_and_the_run_resumes(
    guard: Bastion, clock: ManualClock
) -> None:
    """ASVS V2.3.3: a failure in the middle leaves every row readable; rerunning finishes."""
    table = _users(guard)
    await _fill(guard, table, 9)
    before = await _phones(guard, table)
    clock.advance(1)
    source = ColumnSource(guard.db, table, "phone", subject_column="subject", batch=4)
    real = source._write
    calls = 0

    async def failing(changes: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise StorageUnavailable
        return await real(changes)

    source._write = failing  # type: ignore[method-assign]
    guard.crypto.register(source)
    with pytest.raises(StorageUnavailable):
        await guard.crypto.reencrypt()
    assert await _phones(guard, table) == before
    assert (await guard.crypto.status()).reencrypt_in_progress
    clock.advance(5)
    report = await guard.crypto.reencrypt()
    assert report.resumed and (report.rewritten, report.current) == (5, 3)
    assert await _phones(guard, table) == before
    assert not (await guard.crypto.status()).reencrypt_in_progress


async def test_the_column_refuses_plaintext_and_binds_the_row(guard: Bastion) -> None:
    from bastion.errors import DecryptionFailed

    table = _users(guard)
    await _fill(guard, table, 3)
    async with guard.db.begin() as conn:
        with pytest.raises(Exception, match="Plain"):
            await conn.execute(insert(table).values(id="9", subject="u9", phone=b"+86 1"))
    async with guard.db.connect() as conn:
        row = (await conn.execute(select(table).where(table.c.id == "1"))).one()
    assert "+86" not in repr(row.phone)
    with pytest.raises(DecryptionFailed):
        await row.phone.decrypt(subject="u1", record="2")  # moved to another row
    with pytest.raises(TypeError):
        Plain("text", subject="u1", record=1)  # type: ignore[arg-type]
