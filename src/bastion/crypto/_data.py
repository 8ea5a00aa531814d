"""``guard.crypto``: envelope encryption of application values with per-subject data keys,
and crypto-shredding.

>>> where = f"users.phone:{user_id}"                                   # doctest: +SKIP
>>> blob = await guard.crypto.encrypt(b"+86 138", subject=user_id, context=where)  # doctest: +SKIP
>>> await guard.crypto.decrypt(blob, subject=user_id, context=where)  # doctest: +SKIP

Key operations (rotate, re-encrypt, retire, status) are in ``_operations.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from bastion.crypto._dekcache import CachedDek, DekCache
from bastion.crypto._envelope import (
    DOMAIN,
    context_part,
    header,
    parse_unverified,
    purpose_of,
    subject_part,
)
from bastion.crypto._keyring import Keyring, wrap_aad
from bastion.crypto._keystore import DekRow, KeyStore
from bastion.crypto._master import MasterKey
from bastion.crypto._primitives import InvalidTag, aesgcm, new_aes256_key
from bastion.crypto._tombstones import TombstoneFile
from bastion.errors import DecryptionFailed, MalformedCiphertext, ShreddedSubject
from bastion.infra import Clock, Database, HotState

if TYPE_CHECKING:
    from bastion.config import CryptoSettings
    from bastion.crypto._keks import KekSource
    from bastion.crypto._operations import ReencryptSource
    from bastion.monitor import AuditLog

__all__ = ["CHANNEL", "EnvelopeCipher"]

log = structlog.get_logger("bastion.crypto")
SUBJECT_KEY_PURPOSE = "bastion/crypto-subject-key/v1"
CHANNEL = "crypto"


def _fail(reason: str) -> DecryptionFailed:
    exc = DecryptionFailed()
    exc.reason = reason  # type: ignore[attr-defined]  # for the audit event only
    return exc


class EnvelopeCipher:
    """Encrypt and decrypt values bound to a subject and a context (the core of
    :class:`~bastion.crypto.DataProtection`)."""

    def __init__(
        self,
        settings: CryptoSettings,
        *,
        store: KeyStore,
        source: KekSource,
        master: MasterKey,
        clock: Clock,
        audit: AuditLog,
        main_db: Database,
        hot: HotState | None,
        data_dir: Path,
    ) -> None:
        self.settings, self.store, self.clock, self.audit = settings, store, clock, audit
        self._main_db, self._hot = main_db, hot
        self.keyring = Keyring(store, source, clock)
        self.cache = DekCache(
            clock.monotonic,
            size=settings.dek_cache_size,
            ttl=settings.dek_cache_ttl_seconds,
            on_failure=self._audit_later,
        )
        # The synchronous fast paths, bound straight to the cache (no extra call layer):
        # ``encrypt_cached(plaintext, subject=, context=)`` returns the ciphertext, or None
        # when the data key is not cached yet (then await :meth:`encrypt`);
        # ``decrypt_cached(blob, subject=, context=)`` returns the plaintext, or None when the
        # key is not cached (then await :meth:`decrypt`), and raises like :meth:`decrypt`
        # (failures are audited in the background).
        self.encrypt_cached = self.cache.encrypt
        self.decrypt_cached = self.cache.decrypt
        self._subject_mac = master.derive(SUBJECT_KEY_PURPOSE)
        self.tombstone_file = TombstoneFile(data_dir)
        self._tombstones: set[str] = set()
        self.sources: list[ReencryptSource] = []
        self._audit_tasks: set[asyncio.Task[None]] = set()

    def subject_key(self, subject: str) -> str:
        """The pseudonymous key-store name of a subject (HMAC under a master-key subkey)."""
        return hmac.new(self._subject_mac, subject.encode(), hashlib.sha256).hexdigest()[:32]

    # --- encryption --------------------------------------------------------------------------

    async def encrypt(self, plaintext: bytes, *, subject: str, context: str) -> bytes:
        """AES-256-GCM under the subject's data key for the context's purpose, with a random
        96-bit nonce; the subject and ``context`` are bound as associated data, so the value
        only decrypts with the same subject and context (e.g. ``"users.phone:<id>"``).

        Raises :class:`ShreddedSubject` for a shredded subject, ``InvalidInput`` for a
        malformed subject or context, ``StorageUnavailable`` when the key store is down.
        """
        blob = self.cache.encrypt(plaintext, subject, context)
        if blob is not None:
            return blob
        if not isinstance(plaintext, bytes | bytearray | memoryview):
            raise TypeError("plaintext must be bytes")
        spart, cpart, purpose = subject_part(subject), context_part(context), purpose_of(context)
        skey = self.subject_key(subject)
        if skey in self._tombstones:
            raise ShreddedSubject
        dek = await self._dek_for_encryption(subject, spart, skey, purpose)
        return self.cache.seal(dek, bytes(plaintext), cpart)

    async def _dek_for_encryption(
        self, subject: str, spart: bytes, skey: str, purpose: str
    ) -> CachedDek:
        cfg = self.settings
        cached = self.cache.active(subject, purpose)
        if cached is not None and cached.next < cached.end:
            return cached
        if cached is not None:
            span = await self.store.reserve(
                cached.id.hex(), cfg.reserve_block, cfg.messages_per_dek
            )
            if span is not None:
                cached.next, cached.end = span
                return cached
        await self._refuse_if_shredded(skey)
        row = await self.store.usable_dek(skey, purpose, cfg.messages_per_dek)
        if row is not None:
            span = await self.store.reserve(row.id, cfg.reserve_block, cfg.messages_per_dek)
            if span is not None:
                dek = await self._unwrap(row, subject, spart)
                dek.next, dek.end = span
                self.cache.put(dek, active=True)
                return dek
        return await self._new_dek(subject, spart, skey, purpose)

    async def _new_dek(self, subject: str, spart: bytes, skey: str, purpose: str) -> CachedDek:
        await self.keyring.refresh()
        kek = self.keyring.current
        key, dek_id = new_aes256_key(), os.urandom(16)
        first = min(self.settings.reserve_block, self.settings.messages_per_dek)
        wrapped = kek.wrap(key, wrap_aad(dek_id.hex(), kek.version, skey, purpose))
        now = self.clock.now()
        await self.store.add_dek(
            DekRow(dek_id.hex(), skey, purpose, kek.version, wrapped, "active", first, now)
        )
        await self._refuse_if_shredded(skey, cleanup=True)  # a shred that raced this insert
        dek = CachedDek(
            dek_id,
            subject,
            spart,
            skey,
            purpose,
            aesgcm(key),
            header(kek.version, dek_id),
            now,
            0.0,
            0,
            first,
        )
        self.cache.put(dek, active=True)
        log.info("crypto.dek.created", kek_version=kek.version, purpose=purpose)
        return dek

    async def _refuse_if_shredded(self, skey: str, *, cleanup: bool = False) -> None:
        if skey in self._tombstones or await self.store.is_tombstoned(skey):
            self._tombstones.add(skey)
            if cleanup:
                await self.store.shred(skey, self.clock.now())
            self.cache.evict_subject_key(skey)
            raise ShreddedSubject

    async def _unwrap(self, row: DekRow, subject: str, spart: bytes) -> CachedDek:
        kek = await self.keyring.kek(row.kek_version)
        try:
            key = kek.unwrap(
                row.wrapped, wrap_aad(row.id, row.kek_version, row.subject_key, row.purpose)
            )
        except DecryptionFailed:
            raise _fail("dek-unwrap") from None
        dek_id = bytes.fromhex(row.id)
        return CachedDek(
            dek_id,
            subject,
            spart,
            row.subject_key,
            row.purpose,
            aesgcm(key),
            header(row.kek_version, dek_id),
            row.created_at,
            0.0,
        )

    # --- decryption --------------------------------------------------------------------------

    async def decrypt(self, blob: bytes, *, subject: str, context: str) -> bytes:
        """Open what :meth:`encrypt` made with the same subject and context.

        Fails closed and opaquely: any changed byte, another subject, record or field, an
        unknown key raise :class:`DecryptionFailed`; a truncated or unknown-version value
        :class:`~bastion.errors.MalformedCiphertext`; a shredded subject
        :class:`ShreddedSubject`. Never returns garbage. Every failure is audited (sampled).
        """
        try:
            found = self.cache.decrypt(blob, subject, context)  # audits its own failures
        except DecryptionFailed:
            await self.flush_audits()
            raise
        if found is not None:
            return found
        try:
            return await self._decrypt_slow(blob, subject, context)
        except (DecryptionFailed, ShreddedSubject) as exc:
            await self._audit_failure(exc)
            raise

    async def _decrypt_slow(self, blob: bytes, subject: str, context: str) -> bytes:
        env = parse_unverified(blob)
        spart, cpart = subject_part(subject), context_part(context)
        skey = self.subject_key(subject)
        if skey in self._tombstones:
            raise ShreddedSubject
        dek = self.cache.get(env.dek_id)
        if dek is None or dek.subject != subject:
            row = await self.store.dek(env.dek_id.hex())
            if row is None:
                await self._refuse_if_shredded(skey)
                raise _fail("unknown-key")
            if not hmac.compare_digest(row.subject_key, skey):
                raise _fail("wrong-subject")
            await self._refuse_if_shredded(skey, cleanup=True)  # a restored key store
            dek = await self._unwrap(row, subject, spart)
            self.cache.put(dek, active=False)
        try:
            return dek.aead.decrypt(env.nonce, env.body, DOMAIN + env.header + spart + cpart)
        except InvalidTag:
            raise _fail("tag") from None

    async def _audit_failure(self, exc: BaseException) -> None:
        shredded = isinstance(exc, ShreddedSubject)
        if shredded:
            reason = "shredded"
        elif isinstance(exc, MalformedCiphertext):
            reason = "malformed"
        else:
            reason = getattr(exc, "reason", "tag")
        await self.audit.record_sampled(
            "crypto.decrypt", "denied" if shredded else "failure", key=reason, reason=reason
        )

    def _audit_later(self, exc: BaseException) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.warning("crypto.decrypt.failed", reason="no-event-loop-for-audit")
            return
        task = loop.create_task(self._audit_failure(exc))
        self._audit_tasks.add(task)
        task.add_done_callback(self._audit_done)

    def _audit_done(self, task: asyncio.Task[None]) -> None:
        self._audit_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("crypto.decrypt.audit_failed")

    async def flush_audits(self) -> None:
        """Wait for the audit events of failures on the synchronous path."""
        if self._audit_tasks:
            await asyncio.gather(*list(self._audit_tasks), return_exceptions=True)
