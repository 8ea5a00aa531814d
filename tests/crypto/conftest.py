"""Fixtures for data protection: a whole Bastion whose key store is a SQLite file, or a
schema of its own in the real PostgreSQL server (dropped afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bastion import Bastion
from bastion.infra import ManualClock
from tests.conftest import REDIS_URL, _postgres, make_settings, postgres_url, require_service


async def drop_schema(url: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def crypto_settings(backend: str, tmp_path: Path, **crypto: Any) -> tuple[Any, str | None]:
    """Settings for ``backend`` ("sqlite" or "postgres"); the PostgreSQL key store schema is
    unique to the test."""
    if backend == "sqlite":
        return make_settings(tmp_path, crypto=crypto), None
    require_service("Redis", REDIS_URL, 6379)
    db = await _postgres()
    await db.close()
    schema = f"k_{uuid.uuid4().hex[:12]}"
    url = await postgres_url()
    settings = make_settings(
        tmp_path,
        database={"url": url},
        redis={"url": REDIS_URL, "prefix": f"t{uuid.uuid4().hex[:12]}:"},
        crypto={"keystore_schema": schema, **crypto},
    )
    return settings, url


@asynccontextmanager
async def open_crypto_guard(
    backend: str, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[Bastion]:
    """A Bastion on ``backend``; its PostgreSQL key store schema is dropped afterwards."""
    settings, url = await crypto_settings(backend, tmp_path)
    guard = await Bastion.open(settings, clock=clock)
    try:
        yield guard
    finally:
        await guard.close()
        if url:
            await drop_schema(url, settings.crypto.keystore_schema)


@pytest.fixture(params=["sqlite", "postgres"])
async def crypto_guard(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[Bastion]:
    """A Bastion on SQLite (key store file) and on PostgreSQL + Redis (key store schema)."""
    async with open_crypto_guard(request.param, tmp_path, clock) as guard:
        yield guard
