"""The key store's own tables (not part of the main database's Alembic chain).

The key store holds wrapped data keys, the list of KEK versions and the shred tombstones. It
lives apart from the data: a SQLite file of its own (``keystore.db`` in the data directory) or,
when the main database is PostgreSQL, a schema of its own (``bastion_keys``). It never holds a
key in the clear nor a subject id: subjects appear only as ``subject_key``, an HMAC of the
subject id under a master-key subkey.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["SCHEMA_VERSION", "deks", "keks", "meta", "metadata", "tombstones"]

SCHEMA_VERSION = 1

metadata = MetaData()

meta = Table(
    "crypto_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

keks = Table(
    "crypto_keks",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("source", String(16), nullable=False),
    Column("check_value", LargeBinary, nullable=False),
    Column("state", String(16), nullable=False),  # active | retired
    Column("created_at", Double, nullable=False),
    Column("retired_at", Double, nullable=True),
)

deks = Table(
    "crypto_deks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("subject_key", String(32), nullable=False),
    Column("purpose", String(128), nullable=False),
    Column("kek_version", Integer, nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("state", String(8), nullable=False),  # active | full | retired
    Column("reserved", BigInteger, nullable=False),
    Column("created_at", Double, nullable=False),
    Index("ix_crypto_deks_subject", "subject_key", "purpose"),
    Index("ix_crypto_deks_kek", "kek_version"),
)

tombstones = Table(
    "crypto_tombstones",
    metadata,
    Column("subject_key", String(32), primary_key=True),
    Column("shredded_at", Double, nullable=False),
)
