"""The audit log: an append-only, hash-chained table of security decisions.

Each event stores ``prev_hash`` and ``hash = HMAC-SHA256(k_audit, prev_hash || canonical(event))``
where ``k_audit`` is derived from the master key, so a row cannot be altered, removed or
inserted without :meth:`AuditLog.verify` naming the first broken link, and someone with
database access alone cannot re-forge the chain. Events never hold a password, token, secret
or e-mail address: only ids, action, outcome and a short reason code.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.crypto import MasterKey
from bastion.infra import Clock, Database, new_id
from bastion.infra.schema import audit_events, audit_head

__all__ = ["AuditEvent", "AuditLog", "ChainReport", "Outcome"]

Outcome = Literal["success", "failure", "denied", "error"]
GENESIS = "0" * 64
PURPOSE = "bastion/audit-chain/v1"
log = structlog.get_logger("bastion.audit")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    seq: int
    id: str
    ts: float
    action: str
    outcome: str
    actor: str | None
    subject: str | None
    reason: str | None
    request_id: str | None
    ip: str | None
    details: dict[str, Any] | None
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    checked: int
    broken_seq: int | None = None
    problem: str | None = None


def mask_ip(ip: str | None, mode: str) -> str | None:
    """Keep the whole address, mask it to /24 (IPv4) or /48 (IPv6), or drop it."""
    if ip is None or mode == "none":
        return None
    if mode == "full":
        return ip[:64]
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def _canonical(row: dict[str, Any]) -> bytes:
    fields = ("id", "ts", "action", "outcome", "actor", "subject", "reason", "request_id", "ip")
    body = {k: row[k] for k in fields}
    body["ts"] = repr(float(row["ts"]))
    body["details"] = row["details"]
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


class AuditLog:
    """Append events and check the chain. Safe for concurrent use across replicas."""

    def __init__(
        self, db: Database, master: MasterKey, clock: Clock, *, ip_mode: str = "masked"
    ) -> None:
        self._db = db
        self._key = master.derive(PURPOSE)
        self._clock = clock
        self._ip_mode = ip_mode
        self._lock = asyncio.Lock()

    def _mac(self, prev_hash: str, row: dict[str, Any]) -> str:
        return hmac.new(self._key, prev_hash.encode() + _canonical(row), hashlib.sha256).hexdigest()

    async def record(
        self,
        action: str,
        outcome: Outcome,
        *,
        actor: str | None = None,
        subject: str | None = None,
        reason: str | None = None,
        ip: str | None = None,
        details: dict[str, Any] | None = None,
        conn: AsyncConnection | None = None,
    ) -> None:
        """Append one event; with ``conn`` it commits or rolls back with the caller's change."""
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        row: dict[str, Any] = {
            "id": new_id(),
            "ts": self._clock.now(),
            "action": action[:64],
            "outcome": outcome,
            "actor": actor,
            "subject": subject,
            "reason": reason[:128] if reason else None,
            "request_id": request_id,
            "ip": mask_ip(ip, self._ip_mode),
            "details": json.dumps(details, sort_keys=True, separators=(",", ":"))
            if details
            else None,
        }
        async with self._lock:
            if conn is not None:
                await self._append(conn, row)
            else:
                async with self._db.begin() as own:
                    await self._append(own, row)
        log.info(f"audit.{action}", outcome=outcome, subject=subject, reason=reason)

    async def _append(self, conn: AsyncConnection, row: dict[str, Any]) -> None:
        bumped = await conn.execute(
            update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq + 1)
        )
        if bumped.rowcount == 0:
            await conn.execute(insert(audit_head).values(id=1, seq=1, hash=GENESIS))
            prev = GENESIS
        else:
            prev = (
                await conn.execute(select(audit_head.c.hash).where(audit_head.c.id == 1))
            ).scalar_one()
        row["prev_hash"] = prev
        row["hash"] = self._mac(prev, row)
        await conn.execute(insert(audit_events).values(**row))
        await conn.execute(update(audit_head).where(audit_head.c.id == 1).values(hash=row["hash"]))

    async def verify(self) -> ChainReport:
        """Recompute the chain from the first event; name the first row that does not fit."""
        prev, checked = GENESIS, 0
        async with self._db.connect() as conn:
            head = (await conn.execute(select(audit_head.c.seq, audit_head.c.hash))).first()
            result = await conn.stream(select(audit_events).order_by(audit_events.c.seq))
            async for rec in result.mappings():
                row = dict(rec)
                if row["prev_hash"] != prev:
                    return ChainReport(
                        False, checked, row["seq"], "prev_hash does not match the event before it"
                    )
                if not hmac.compare_digest(self._mac(prev, row), row["hash"]):
                    return ChainReport(
                        False, checked, row["seq"], "event content does not match its hash"
                    )
                prev, checked = row["hash"], checked + 1
        if head is not None and (head.hash != prev or head.seq != checked):
            return ChainReport(False, checked, checked + 1, "events are missing after the last one")
        if head is None and checked:
            return ChainReport(False, checked, None, "the chain head record is missing")
        return ChainReport(True, checked)

    async def tail(self, limit: int = 20, *, action: str | None = None) -> list[AuditEvent]:
        """The newest ``limit`` events, oldest first."""
        query = select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
        if action:
            query = query.where(audit_events.c.action == action)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_event(dict(r)) for r in reversed(rows)]

    async def iterate(self) -> AsyncIterator[AuditEvent]:
        async with self._db.connect() as conn:
            result = await conn.stream(select(audit_events).order_by(audit_events.c.seq))
            async for rec in result.mappings():
                yield _event(dict(rec))


def _event(row: dict[str, Any]) -> AuditEvent:
    row["details"] = json.loads(row["details"]) if row["details"] else None
    return AuditEvent(**row)
