"""An encrypted SQLAlchemy column for application tables, and the re-encryption source that
lets ``bastion crypto reencrypt`` reach it.

::

    phone = Column("phone", EncryptedColumn("users.phone", lambda: guard.crypto))
    await conn.execute(users.insert().values(id="42", phone=Plain(b"+86 138", subject="u42",
                                                                   record="42")))
    row = (await conn.execute(users.select())).one()
    await row.phone.decrypt(subject="u42", record="42")     # b"+86 138"

The context of every value is ``"<field>:<record>"`` (``"users.phone:42"``): the value is bound
to its table, column and row, so a value copied into another row or column does not decrypt.
Reading returns :class:`Encrypted` (ciphertext only) and decrypting asks for the subject and
record again, on purpose: they come from the row the caller trusts, never from the value.

Works with SQLAlchemy's asyncio engine (as Bastion uses): encryption with a cached data key
is synchronous; a cold key is fetched from the key store inside the engine's greenlet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import LargeBinary, Table, select, type_coerce, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_only

from bastion.crypto._envelope import purpose_of
from bastion.errors import ConfigError
from bastion.infra import Database

if TYPE_CHECKING:
    from bastion.crypto._operations import Recrypt
    from bastion.crypto._service import DataProtection

__all__ = ["ColumnSource", "Encrypted", "EncryptedColumn", "Plain"]


class Plain:
    """A value to store in an :class:`EncryptedColumn`, with the subject it belongs to and the
    id of its row."""

    __slots__ = ("record", "subject", "value")

    def __init__(self, value: bytes, *, subject: str, record: str | int) -> None:
        if not isinstance(value, bytes):
            raise TypeError("an encrypted column stores bytes (encode text first)")
        self.value, self.subject, self.record = value, subject, str(record)

    def __repr__(self) -> str:
        return f"Plain(<{len(self.value)} bytes>, record={self.record!r})"


class Encrypted:
    """What a query returns for an encrypted column: the ciphertext, still sealed."""

    __slots__ = ("_column", "blob")

    def __init__(self, blob: bytes, column: EncryptedColumn) -> None:
        self.blob, self._column = blob, column

    def __repr__(self) -> str:
        return f"Encrypted(<{len(self.blob)} bytes>, field={self._column.field!r})"

    async def decrypt(self, *, subject: str, record: str | int) -> bytes:
        """The plaintext, if this value belongs to ``subject`` and row ``record`` of this
        column; raises ``DecryptionFailed`` or ``ShreddedSubject`` otherwise."""
        return await self._column.crypto().decrypt(
            self.blob, subject=subject, context=f"{self._column.field}:{record}"
        )


class EncryptedColumn(TypeDecorator[Any]):
    """A ``LargeBinary`` column holding envelope ciphertexts. Assign :class:`Plain` values;
    anything else is refused, so plaintext never reaches the table by mistake."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, field: str, crypto: Callable[[], DataProtection]) -> None:
        super().__init__()
        if ":" in field:
            raise ConfigError("an encrypted column's field is 'table.column', without ':'")
        purpose_of(field)
        self.field, self.crypto = field, crypto

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, Encrypted) and value._column.field == self.field:
            return value.blob  # unchanged value written back
        if not isinstance(value, Plain):
            raise TypeError("assign Plain(value, subject=..., record=...) to an encrypted column")
        crypto, context = self.crypto(), f"{self.field}:{value.record}"
        blob = crypto.encrypt_cached(value.value, subject=value.subject, context=context)
        if blob is None:
            try:
                blob = await_only(
                    crypto.encrypt(value.value, subject=value.subject, context=context)
                )
            except MissingGreenlet:
                raise ConfigError("EncryptedColumn needs SQLAlchemy's asyncio engine") from None
        return blob

    def process_result_value(self, value: Any, dialect: Dialect) -> Encrypted | None:
        return None if value is None else Encrypted(bytes(value), self)


class ColumnSource:
    """A re-encryption source over one encrypted column: walks the table in id order, batch
    by batch, and writes back each re-encrypted value only if the row still holds the old one."""

    def __init__(
        self,
        db: Database,
        table: Table,
        column: str,
        *,
        id_column: str = "id",
        subject_column: str,
        batch: int = 500,
    ) -> None:
        kind = table.c[column].type
        if not isinstance(kind, EncryptedColumn):
            raise ConfigError(f"{table.name}.{column} is not an EncryptedColumn")
        self.name = f"{table.name}.{column}"
        self._db, self._table, self._field, self._batch = db, table, kind.field, batch
        self._column = table.c[column]
        self._value = type_coerce(self._column, LargeBinary)
        self._id, self._subject = table.c[id_column], table.c[subject_column]

    async def reencrypt(self, recrypt: Recrypt) -> int:
        rewritten, after = 0, None
        while True:
            query = select(self._id, self._subject, self._value).order_by(self._id)
            if after is not None:
                query = query.where(self._id > after)
            async with self._db.connect() as conn:
                rows = (await conn.execute(query.limit(self._batch))).all()
            if not rows:
                return rewritten
            changes = []
            for record, subject, blob in rows:
                if blob is None:
                    continue
                fresh = await recrypt(
                    bytes(blob), subject=subject, context=f"{self._field}:{record}"
                )
                if fresh is not None:
                    changes.append((record, bytes(blob), fresh))
            rewritten += await self._write(changes)
            after = rows[-1][0]

    async def _write(self, changes: list[tuple[Any, bytes, bytes]]) -> int:
        done = 0
        async with self._db.begin() as conn:  # one transaction per batch: all or nothing
            for record, old, fresh in changes:
                result = await conn.execute(
                    update(self._table)
                    .where(self._id == record, self._value == type_coerce(old, LargeBinary))
                    .values({self._column: type_coerce(fresh, LargeBinary)})
                )
                done += result.rowcount
        return done
