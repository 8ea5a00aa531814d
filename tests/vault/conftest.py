"""A whole Bastion for vault tests, on SQLite and on PostgreSQL + Redis, each with a key store
of its own (a PostgreSQL schema unique to the test, dropped afterwards)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bastion import Bastion
from bastion.infra import ManualClock
from tests.crypto.conftest import open_crypto_guard


@pytest.fixture(params=["sqlite", "postgres"])
async def vault_guard(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[Bastion]:
    async with open_crypto_guard(request.param, tmp_path, clock) as guard:
        yield guard
