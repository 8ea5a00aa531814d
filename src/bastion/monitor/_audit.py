"""The audit log: an append-only, hash-chained table of security decisions.

Each event stores ``prev_hash`` and ``hash = HMAC-SHA256(k_audit, prev_hash || canonical(event))``
where ``k_audit`` is derived from the master key, so a row cannot be altered, removed or
inserted without :meth:`AuditLog.verify` naming the first broken link, and someone with
database access alone cannot re-forge the chain. Events never hold a password, token, secret
or e-mail address: only ids, action, outcome and a short reason code.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.crypto import MasterKey
from bastion.errors import StorageUnavailable
from bastion.infra import Clock, Database, HotState, new_id
from bastion.infra.schema import audit_events, audit_head

__all__ = ["AuditEvent", "AuditLog", "ChainReport", "Outcome"]

Outcome = Literal["success", "failure", "denied", "error"]
GENESIS = "0" * 64
APPEND_ATTEMPTS = 50  # each miss means another writer committed: progress is being made
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
        self,
        db: Database,
        master: MasterKey,
        clock: Clock,
        *,
        ip_mode: str = "masked",
        hot: HotState | None = None,
    ) -> None:
        self._db = db
        self._key = master.derive(PURPOSE)
        self._clock = clock
        self._ip_mode = ip_mode
        self._hot = hot
        self._head: tuple[int, str] | None = None

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
        # No process-wide lock: the head row's database lock orders appends (across
        # processes too), and an in-process lock held while waiting for it would deadlock two
        # transactions that each append more than once.
        if conn is not None:
            await self._append(conn, row)
        else:
            async with self._db.begin() as own:
                await self._append(own, row)
        log.info(f"audit.{action}", outcome=outcome, subject=subject, reason=reason)

    async def record_sampled(
        self,
        action: str,
        outcome: Outcome,
        *,
        key: str,
        every_seconds: float = 10.0,
        reason: str | None = None,
        ip: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record at most one event per ``key`` (e.g. reason + client network) per window and
        count the rest, for decisions an attacker can repeat cheaply (forged tokens): the
        next recorded event carries ``suppressed`` = how many were folded into it. Without
        hot state (``hot=None``) every event is recorded."""
        if self._hot is None:
            await self.record(action, outcome, reason=reason, ip=ip, details=details)
            return
        gate = f"audit:gate:{action}:{key}"
        if not await self._hot.add_once(gate, every_seconds):
            await self._hot.incr(gate + ":n", max(every_seconds * 6, 60.0))
            return
        suppressed = await self._hot.get_int(gate + ":n")
        if suppressed:
            await self._hot.delete(gate + ":n")
        merged = {**(details or {}), **({"suppressed": suppressed} if suppressed else {})}
        await self.record(action, outcome, reason=reason, ip=ip, details=merged or None)

    async def record_denied(self, action: str, *, reason: str | None, ip: str | None) -> None:
        """A ``denied`` event sampled per reason and client network (the /24 or /48 of
        ``ip``): the form of every refusal a client can repeat cheaply."""
        await self.record_sampled(
            action, "denied", key=f"{reason}:{mask_ip(ip, 'masked')}", reason=reason, ip=ip
        )

    async def _append(self, conn: AsyncConnection, row: dict[str, Any]) -> None:
        """Two statements in the common case: move the head (which locks it) and insert.

        The head is remembered in memory; if another process or replica moved the chain
        meanwhile, the conditional update matches nothing and the head is read again.
        """
        head = self._head or await self._read_head(conn)
        for _ in range(APPEND_ATTEMPTS):
            if await self._try_append(conn, row, head):
                return
            head = await self._read_head(conn)
        raise StorageUnavailable("the audit chain head keeps moving; try again")

    async def _read_head(self, conn: AsyncConnection) -> tuple[int, str]:
        query = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
        found = (await conn.execute(query)).first()
        if found is not None:
            return int(found.seq), str(found.hash)
        try:
            async with conn.begin_nested():
                await conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))
        except IntegrityError:
            found = (await conn.execute(query)).one()
            return int(found.seq), str(found.hash)
        return 0, GENESIS

    async def _try_append(
        self, conn: AsyncConnection, row: dict[str, Any], head: tuple[int, str]
    ) -> bool:
        seq, prev = head
        row["prev_hash"] = prev
        row["hash"] = self._mac(prev, row)
        moved = await conn.execute(
            update(audit_head)
            .where(audit_head.c.id == 1, audit_head.c.seq == seq, audit_head.c.hash == prev)
            .values(seq=seq + 1, hash=row["hash"])
        )
        if moved.rowcount != 1:
            self._head = None
            return False
        await conn.execute(insert(audit_events).values(**row))
        self._head = (seq + 1, row["hash"])
        return True

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
