"""Shred tombstones kept where a restored key store cannot roll them back.

A shred leaves its tombstone (``subject_key`` = HMAC of the subject id) in three places:

1. the key store's ``crypto_tombstones`` table (shared by every replica);
2. an append-only file ``crypto-tombstones.log`` in the data directory (fsynced per shred);
3. the audit log in the main database (the ``crypto.subject.shred`` event names the subject).

On every start the three are merged and any tombstone the key store lacks (an older key-store
backup was restored) is applied again: the subject's data keys are deleted before any request
is served. What this cannot undo is documented in ``docs/encryption.md``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select

from bastion.infra import Database
from bastion.infra.schema import audit_events

__all__ = ["SHRED_ACTION", "TombstoneFile", "shredded_subjects_in_audit"]

SHRED_ACTION = "crypto.subject.shred"
_LINE = re.compile(r"^v1 ([0-9a-f]{32}) [0-9.]+$")


class TombstoneFile:
    """``v1 <subject_key> <unix time>`` lines, appended with O_APPEND and fsynced."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "crypto-tombstones.log"

    def read(self) -> set[str]:
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return set()
        return {m.group(1) for line in text.splitlines() if (m := _LINE.match(line.strip()))}

    def append(self, subject_keys: Iterable[str], now: float) -> None:
        lines = "".join(f"v1 {key} {now:.3f}\n" for key in subject_keys)
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, lines.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)


async def shredded_subjects_in_audit(db: Database) -> set[str]:
    """Subjects whose shred the audit log records as successful."""
    query = select(audit_events.c.subject).where(
        audit_events.c.action == SHRED_ACTION,
        audit_events.c.outcome == "success",
        audit_events.c.subject.is_not(None),
    )
    async with db.connect() as conn:
        return {str(s) for s in (await conn.execute(query)).scalars()}
