"""Shared fixtures.

Backends: ``db`` is a real SQLite file per test; ``any_db`` runs the test again on the real
PostgreSQL server (``BASTION_TEST_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``).
``hot`` is in-memory hot state; ``any_hot`` runs again on real Redis (``BASTION_TEST_REDIS_URL``).
On a developer machine without those servers the PostgreSQL/Redis variants skip with a clear
message; with ``CI=true`` they fail instead, so CI can never silently skip them.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from bastion.crypto import MasterKey
from bastion.infra import Database, ManualClock, MemoryHotState, RedisHotState, migrate
from bastion.infra.schema import metadata

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_DATA = SHARED / "data"
POSTGRES_URL = os.environ.get(
    "BASTION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("BASTION_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, port: int) -> None:
    """Skip (developer machine) or fail (CI=true) when a real server is not reachable."""
    if _reachable(url, port):
        return
    message = f"{name} is not reachable at {url}; start it (see .ci/run) or set the test URL"
    if IN_CI:
        pytest.fail(message + " -- the PostgreSQL and Redis suites are mandatory in CI")
    pytest.skip(message)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def master_key() -> MasterKey:
    return MasterKey(b"\x07" * 32)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


async def _sqlite(tmp_path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    await migrate(db)
    return db


_PG_READY: dict[str, object] = {}


async def recreate_pg_database(name: str) -> str:
    """Drop (if left over) and create a PostgreSQL database; return its URL."""
    import asyncpg

    base = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.rsplit("/", 1)[0] + "/" + name


async def drop_pg_database(name: str) -> None:
    """Drop a database made by :func:`recreate_pg_database` (connections closed by force)."""
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _worker_database_name() -> str:
    """One database per xdist worker and per test run (two runs on one machine never share)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"p{os.getpid()}")[:8]
    return f"bastion_test_{run}_{worker}"


async def _worker_database() -> str:
    """A fresh database of its own; dropped again when the session ends."""
    return await recreate_pg_database(_worker_database_name())


@pytest.fixture(scope="session", autouse=True)
def _drop_worker_database() -> Iterator[None]:
    yield
    if "url" not in _PG_READY:
        return
    import asyncio

    asyncio.run(drop_pg_database(_worker_database_name()))


async def postgres_url() -> str:
    require_service("PostgreSQL", POSTGRES_URL, 5432)
    if "url" not in _PG_READY:
        _PG_READY["url"] = await _worker_database()  # type: ignore[assignment]
    return str(_PG_READY["url"])


async def _postgres() -> Database:
    db = Database(await postgres_url(), pool_size=5)
    if not _PG_READY.get("migrated"):
        await migrate(db)
        _PG_READY["migrated"] = True
    async with db.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        from sqlalchemy import text

        await conn.execute(text(f"TRUNCATE {names} CASCADE"))
    return db


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await _sqlite(tmp_path)
    yield database
    await database.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database = await (_sqlite(tmp_path) if request.param == "sqlite" else _postgres())
    yield database
    await database.close()


@pytest.fixture
def hot(clock: ManualClock) -> MemoryHotState:
    return MemoryHotState(clock)


@pytest.fixture(params=["memory", "redis"])
async def any_hot(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[object]:
    if request.param == "memory":
        yield MemoryHotState(clock)
        return
    require_service("Redis", REDIS_URL, 6379)
    state = RedisHotState(REDIS_URL, prefix=f"t{uuid.uuid4().hex[:8]}:")
    yield state
    await state.close()


def make_settings(tmp_path: Path, **overrides: object) -> object:
    from bastion.config import Settings

    base: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "master_key": "B" * 43,
        "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'bastion.db'}"},
        # The clock of these tests stands still, so any limit would be reached for good;
        # tests/http/test_ratelimit.py switches the limiter on where it is the subject.
        "ratelimit": {"enabled": False},
        # On PostgreSQL the data-protection key store is a schema of the shared test
        # database, while its KEK files live in this test's data dir: one schema per test.
        "crypto": {"keystore_schema": f"k_{uuid.uuid4().hex[:16]}"},
    }
    base.update(overrides)
    return Settings.model_validate(base)


@pytest.fixture
async def guard(tmp_path: Path, clock: ManualClock) -> AsyncIterator[object]:
    """A whole Bastion on a real SQLite file and in-memory hot state, on a ManualClock."""
    from bastion import Bastion

    instance = await Bastion.open(make_settings(tmp_path), clock=clock)  # type: ignore[arg-type]
    yield instance
    await instance.close()


@pytest.fixture(params=["sqlite-memory", "postgres-redis"])
async def any_guard(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[object]:
    """The same, and again on the real PostgreSQL and Redis servers."""
    from bastion import Bastion

    if request.param == "sqlite-memory":
        settings = make_settings(tmp_path)
    else:
        require_service("Redis", REDIS_URL, 6379)
        db = await _postgres()
        await db.close()
        settings = make_settings(
            tmp_path,
            database={"url": await postgres_url()},
            redis={"url": REDIS_URL, "prefix": f"t{uuid.uuid4().hex[:12]}:"},
        )
    instance = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    yield instance
    await instance.close()
