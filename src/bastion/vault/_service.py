"""The vault: personal data stored encrypted per subject, found by blind index, erased by
crypto-shredding. ``guard.vault``; see ``docs/vault.md``.

Guarantees:
- no plaintext at rest: values are encrypted by ``guard.crypto`` under the subject's data key,
  bound to ``vault:<field>:<subject>`` (a row moved to another place does not decrypt);
- every read is audited (``vault.read``, ``vault.lookup`` per hit), every write in the same
  transaction as the change; events hold the subject and field, never a value;
- lookups compare blind indexes only and decrypt nothing;
- erasure shreds the subject's data key first, then removes its rows and blind indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bastion._principal import Principal
from bastion.config import VaultSettings
from bastion.crypto import MasterKey
from bastion.errors import DecryptionFailed, FieldNotIndexed, NotFound, ShreddedSubject
from bastion.infra import Clock
from bastion.monitor import AuditLog, Outcome
from bastion.vault._access import Operation, denial, missing_scope
from bastion.vault._index import BlindIndex
from bastion.vault._names import check_field, check_subject, check_value
from bastion.vault._normalise import normaliser
from bastion.vault._reencrypt import reindex
from bastion.vault._store import VaultStore
from bastion.vault._types import Encryptor, VaultEntry, context_for

__all__ = ["Vault"]


@dataclass(frozen=True, slots=True)
class _Call:
    """One allowed call: who made it, on which field, from where; records its audit events."""

    audit: AuditLog
    actor: str
    field: str | None
    ip: str | None

    async def record(
        self,
        action: str,
        outcome: Outcome,
        subject: str | None,
        reason: str | None = None,
        *,
        conn: AsyncConnection | None = None,
        **details: Any,
    ) -> None:
        extra = {"field": self.field, **details} if self.field else details
        await self.audit.record(
            action, outcome, actor=self.actor, subject=subject, reason=reason, ip=self.ip,
            details=extra or None, conn=conn,
        )  # fmt: skip


class Vault:
    """Built by :meth:`from_settings` (``guard.vault``). Every method takes the ``caller`` (a
    :class:`~bastion._principal.Principal`, or None for the operator) and the client ``ip``
    for the audit event."""

    def __init__(
        self,
        store: VaultStore,
        crypto: Encryptor,
        master: MasterKey,
        audit: AuditLog,
        clock: Clock,
        *,
        max_value_bytes: int = 4096,
        phone_region: str = "CN",
        lookup_fields: Mapping[str, str] | None = None,
        max_lookup_results: int = 100,
        self_read: bool = True,
    ) -> None:
        self.store = store
        self._crypto, self._audit, self._clock = crypto, audit, clock
        self._index = BlindIndex(master)
        self.max_value_bytes = max_value_bytes
        self._max_results, self._self_read = max_lookup_results, self_read
        fields = {"phone": "phone", "email": "email"} if lookup_fields is None else lookup_fields
        self.lookup_fields: dict[str, str] = {check_field(f): k for f, k in fields.items()}
        self._normalisers: dict[str, Callable[[str], str]] = {
            f: normaliser(k, phone_region=phone_region) for f, k in self.lookup_fields.items()
        }

    @classmethod
    def from_settings(
        cls,
        store: VaultStore,
        crypto: Encryptor,
        master: MasterKey,
        audit: AuditLog,
        clock: Clock,
        settings: VaultSettings,
    ) -> Vault:
        """The vault as ``[vault]`` configures it; raises ``ConfigError`` for an unknown phone
        region or a bad lookup field."""
        return cls(
            store, crypto, master, audit, clock,
            max_value_bytes=settings.max_value_bytes,
            phone_region=settings.phone_region,
            lookup_fields=settings.lookup_fields,
            max_lookup_results=settings.max_lookup_results,
            self_read=settings.self_read,
        )  # fmt: skip

    async def _allow(
        self,
        caller: Principal | None,
        op: Operation,
        subject: str | None,
        field: str | None,
        ip: str | None,
    ) -> _Call:
        """The allowed call, or ``MissingScope`` (403) after an ``authz.denied`` event."""
        scope = missing_scope(caller, op, subject, self_read=self._self_read)
        actor = "operator" if caller is None else caller.subject
        call = _Call(self._audit, actor, field, ip)
        if scope is not None:
            await call.record(
                "authz.denied", "denied", subject, "missing_scope", missing=scope,
                operation=f"vault.{op}",
            )  # fmt: skip
            raise denial(scope)
        return call

    def blind_index(self, field: str, value: str) -> str | None:
        """The blind index of ``value`` in ``field``, None for a field without lookup.
        Raises :class:`InvalidVaultValue` if the value does not normalise."""
        normalise = self._normalisers.get(field)
        if normalise is None:
            return None
        return self._index.compute(field, self.lookup_fields[field], normalise(value))

    async def put(
        self,
        subject: str,
        field: str,
        value: str,
        *,
        caller: Principal | None = None,
        ip: str | None = None,
    ) -> VaultEntry:
        """Store ``value`` encrypted as ``subject``'s ``field`` (replacing any older value).

        Raises ``InvalidVaultValue`` (422) for a bad subject, field or value (wrong type, over
        ``max_value_bytes``, not normalisable for an indexed field), ``MissingScope`` (403) and
        ``ShreddedSubject`` (410) for an erased subject. Nothing is stored on any error."""
        subject, field = check_subject(subject), check_field(field)
        data = check_value(value, self.max_value_bytes)
        call = await self._allow(caller, "write", subject, field, ip)
        index = self.blind_index(field, value)
        try:
            blob = await self._crypto.encrypt(
                data, subject=subject, context=context_for(subject, field)
            )
        except ShreddedSubject:
            await call.record("vault.write", "failure", subject, "shredded")
            raise

        async def audited(conn: AsyncConnection, version: int) -> None:
            await call.record("vault.write", "success", subject, conn=conn, version=version)

        return await self.store.put(subject, field, blob, index, self._clock.now(), audited)

    async def get(
        self, subject: str, field: str, *, caller: Principal | None = None, ip: str | None = None
    ) -> str:
        """The plaintext of ``subject``'s ``field``; audited (``vault.read``) whatever happens.

        Raises ``NotFound`` (404), ``ShreddedSubject`` (410: the data key was destroyed; no
        data), ``DecryptionFailed`` (500: tampered or moved ciphertext), ``MissingScope``."""
        subject, field = check_subject(subject), check_field(field)
        call = await self._allow(caller, "read", subject, field, ip)
        stored = await self.store.get(subject, field)
        if stored is None:
            if self._crypto.is_shredded(subject):
                await call.record("vault.read", "failure", subject, "shredded")
                raise ShreddedSubject()
            await call.record("vault.read", "failure", subject, "not_found")
            raise NotFound("No such vault entry.")
        context = context_for(subject, field)
        try:
            plain = await self._crypto.decrypt(stored.ciphertext, subject=subject, context=context)
        except ShreddedSubject:
            await call.record("vault.read", "failure", subject, "shredded")
            raise
        except DecryptionFailed:
            await call.record("vault.read", "error", subject, "undecryptable")
            raise
        await call.record("vault.read", "success", subject)
        return plain.decode("utf-8")

    async def delete(
        self, subject: str, field: str, *, caller: Principal | None = None, ip: str | None = None
    ) -> None:
        """Remove one field (its ciphertext and blind index); ``NotFound`` if there is none."""
        subject, field = check_subject(subject), check_field(field)
        call = await self._allow(caller, "write", subject, field, ip)

        async def audited(conn: AsyncConnection, _: int) -> None:
            await call.record("vault.delete", "success", subject, conn=conn)

        if not await self.store.delete(subject, field, audited):
            await call.record("vault.delete", "failure", subject, "not_found")
            raise NotFound("No such vault entry.")

    async def lookup(
        self, field: str, value: str, *, caller: Principal | None = None, ip: str | None = None
    ) -> list[str]:
        """Subjects whose ``field`` equals ``value`` after normalisation (at most
        ``max_lookup_results``, sorted). Compares blind indexes only: decrypts nothing.
        Each hit is audited as ``vault.lookup`` on that subject; a miss once, as a failure.

        Raises ``FieldNotIndexed`` (422) for a field without lookup, ``InvalidVaultValue``
        (422) for a value that does not normalise, ``MissingScope`` (403)."""
        field = check_field(field)
        check_value(value, self.max_value_bytes)
        call = await self._allow(caller, "lookup", None, field, ip)
        index = self.blind_index(field, value)
        if index is None:
            raise FieldNotIndexed(f"The field '{field}' is not configured for lookup.")
        found = await self.store.find(field, index, self._max_results)
        # Rows of a subject shredded by other means (not by delete_subject) keep their blind
        # index until erased; they are no answer any more.
        subjects = [s for s in found if not self._crypto.is_shredded(s)]
        for subject in subjects:
            await call.record("vault.lookup", "success", subject)
        if not subjects:
            await call.record("vault.lookup", "failure", None, "no_match")
        return subjects

    async def delete_subject(
        self, subject: str, *, caller: Principal | None = None, ip: str | None = None
    ) -> int:
        """Erase a subject: shred its data key (every copy of its ciphertexts, backups
        included, becomes unreadable), then remove its rows and blind indexes. Idempotent;
        returns the rows removed. Needs ``vault:erase``."""
        subject = check_subject(subject)
        call = await self._allow(caller, "erase", subject, None, ip)
        await self._crypto.shred(subject, actor=call.actor)

        async def audited(conn: AsyncConnection, rows: int) -> None:
            await call.record("vault.subject.erased", "success", subject, conn=conn, rows=rows)

        return await self.store.delete_subject(subject, audited)

    async def reindex(self) -> int:
        """Recompute every blind index (after ``lookup_fields``, a normaliser or the master key
        changed); decrypts each row once. Returns how many indexes changed; audited."""
        changed = await reindex(self.store, self._crypto, self.blind_index)
        await self._audit.record("vault.reindex", "success", details={"changed": changed})
        return changed

    async def entries(self, subject: str) -> list[VaultEntry]:
        """The fields stored for ``subject`` (metadata only, nothing decrypted): for an
        operator or a data-subject access request."""
        return await self.store.entries(check_subject(subject))
