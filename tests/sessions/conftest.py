"""Fixtures shared by the token tests: a keyring on a real SQLite file and its token service."""

from __future__ import annotations

import pytest

from bastion.config import TokenSettings
from bastion.crypto import MasterKey
from bastion.infra import Database, ManualClock
from bastion.sessions import SigningKeyring, TokenService


@pytest.fixture
async def ring(db: Database, master_key: MasterKey, clock: ManualClock) -> SigningKeyring:
    keyring = SigningKeyring(db, master_key, clock, TokenSettings())
    await keyring.load()
    return keyring


@pytest.fixture
def tokens(ring: SigningKeyring, clock: ManualClock) -> TokenService:
    return TokenService(ring, clock, TokenSettings())
