"""``guard.crypto``: the data-protection service. Encryption and decryption come from
:class:`~bastion.crypto._data.EnvelopeCipher`; this adds the life cycle, crypto-shredding with
tombstones, and the key operations (rotate, re-encrypt, retire, status in ``_operations.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from bastion.crypto._data import CHANNEL, EnvelopeCipher
from bastion.crypto._envelope import subject_part
from bastion.crypto._tombstones import shredded_subjects_in_audit

if TYPE_CHECKING:
    from bastion.crypto._operations import (
        ReencryptReport,
        ReencryptSource,
        RotationReport,
        Status,
    )

__all__ = ["DataProtection"]

log = structlog.get_logger("bastion.crypto")


class DataProtection(EnvelopeCipher):
    """Encrypt and decrypt values bound to a subject and a context; shred a subject; rotate,
    re-encrypt and retire keys. Construct with :func:`~bastion.crypto.build_data_protection`
    and ``await start()``."""

    # --- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the key store, load (or create) the KEKs, re-apply tombstones, listen for
        shreds on other replicas."""
        await self.store.start()
        await self.keyring.start()
        await self.reapply_tombstones()
        if self._hot is not None:
            await self._hot.subscribe(CHANNEL, self._on_notice)

    async def close(self) -> None:
        await self.flush_audits()
        self.cache.clear()
        self.keyring.source.close()
        await self.store.close()

    async def _on_notice(self, message: str) -> None:
        kind, _, value = message.partition(":")
        if kind == "shred":
            self._tombstones.add(value)
            self.cache.evict_subject_key(value)
        elif kind == "retire":
            self.cache.stop_encrypting()

    async def stop_encrypting_everywhere(self) -> None:
        """After data keys were retired: forget which keys encrypt, here and on replicas."""
        self.cache.stop_encrypting()
        if self._hot is not None:
            try:
                await self._hot.publish(CHANNEL, "retire:")
            except Exception:  # replicas stop within the cache TTL anyway
                log.warning("crypto.retire.publish_failed")

    # --- key operations (see _operations.py) --------------------------------------------------

    def register(self, source: ReencryptSource) -> None:
        """Make a source of stored values (the vault, an encrypted column) reachable by
        :meth:`reencrypt`."""
        if source.name not in {s.name for s in self.sources}:
            self.sources.append(source)

    async def rotate(
        self,
        *,
        batch: int = 1000,
        progress: Callable[[int, int], None] | None = None,
        actor: str | None = None,
    ) -> RotationReport:
        """Add a KEK version and re-wrap every data key (or finish an interrupted rotation)."""
        from bastion.crypto._operations import rotate

        return await rotate(self, batch=batch, progress=progress, actor=actor)

    async def reencrypt(
        self, *, progress: Callable[[str, int], None] | None = None, actor: str | None = None
    ) -> ReencryptReport:
        """Re-encrypt every value the registered sources reach under new data keys."""
        from bastion.crypto._operations import reencrypt

        return await reencrypt(self, list(self.sources), progress=progress, actor=actor)

    async def retire(self, version: int, *, actor: str | None = None) -> None:
        """Retire an old KEK version once nothing refers to it (``KekInUse`` otherwise)."""
        from bastion.crypto._operations import retire

        await retire(self, version, actor=actor)

    async def status(self) -> Status:
        """KEK versions, data keys by state, tombstones, re-encryption in progress."""
        from bastion.crypto._operations import status

        return await status(self)

    # --- crypto-shredding --------------------------------------------------------------------

    async def shred(self, subject: str, *, actor: str | None = None) -> int:
        """Destroy every data key of ``subject``: all its values, wherever they are copied
        (backups of the data database included), can never be decrypted again and raise
        :class:`ShreddedSubject`. Leaves a tombstone in the key store, the tombstone file and
        the audit log. Idempotent; returns how many data keys were destroyed."""
        subject_part(subject)
        skey = self.subject_key(subject)
        now = self.clock.now()
        self.tombstone_file.append([skey], now)
        destroyed = await self.store.shred(skey, now)
        self._tombstones.add(skey)
        self.cache.evict_subject_key(skey)
        if self._hot is not None:
            try:
                await self._hot.publish(CHANNEL, f"shred:{skey}")
            except Exception:  # the key store is authoritative; replicas catch up by TTL
                log.warning("crypto.shred.publish_failed")
        await self.audit.record(
            "crypto.subject.shred",
            "success",
            actor=actor,
            subject=subject,
            details={"deks": destroyed},
        )
        return destroyed

    def is_shredded(self, subject: str) -> bool:
        """True when this process knows ``subject`` was shredded."""
        return self.subject_key(subject) in self._tombstones

    async def reapply_tombstones(self) -> int:
        """Merge the tombstones of the key store, the tombstone file and the audit log, and
        shred again every subject the key store forgot (a restored backup). Returns how many
        tombstones were re-applied."""
        in_store = await self.store.tombstones()
        in_file = self.tombstone_file.read()
        in_audit = {self.subject_key(s) for s in await shredded_subjects_in_audit(self._main_db)}
        every = in_store | in_file | in_audit
        missing, destroyed = every - in_store, 0
        now = self.clock.now()
        for skey in sorted(missing):
            destroyed += await self.store.shred(skey, now)
        self.tombstone_file.append(sorted(every - in_file), now)
        self._tombstones = every
        if missing:
            await self.audit.record(
                "crypto.tombstone.reapply",
                "success",
                details={"tombstones": len(missing), "deks": destroyed},
            )
            log.warning("crypto.tombstones.reapplied", tombstones=len(missing), deks=destroyed)
        return len(missing)
