"""The hash-chained audit log (ASVS V16.4.2 tamper evidence, V16.2.1 event attributes)."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, update

from bastion.crypto import MasterKey
from bastion.infra import Database, ManualClock
from bastion.infra.schema import audit_events, audit_head
from bastion.monitor import AuditLog, mask_ip


async def _filled(db: Database, master_key: MasterKey, clock: ManualClock, n: int = 5) -> AuditLog:
    log = AuditLog(db, master_key, clock)
    for i in range(n):
        clock.advance(1)
        await log.record(
            "auth.login", "failure", subject=f"user{i}", reason="bad_password", ip="203.0.113.9"
        )
    return log


async def test_chain_verifies(any_db: Database, master_key: MasterKey, clock: ManualClock) -> None:
    log = await _filled(any_db, master_key, clock)
    report = await log.verify()
    assert report.ok and report.checked == 5


async def test_altered_row_is_named(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    """ASVS V16.4.2: an edited event is detected and the first broken link named."""
    log = await _filled(any_db, master_key, clock)
    events = await log.tail(5)
    async with any_db.begin() as conn:
        await conn.execute(
            update(audit_events)
            .where(audit_events.c.seq == events[2].seq)
            .values(outcome="success")
        )
    report = await log.verify()
    assert not report.ok
    assert report.broken_seq == events[2].seq
    assert report.checked == 2


async def test_removed_row_is_detected(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    log = await _filled(any_db, master_key, clock)
    events = await log.tail(5)
    async with any_db.begin() as conn:
        await conn.execute(delete(audit_events).where(audit_events.c.seq == events[1].seq))
    report = await log.verify()
    assert not report.ok and report.broken_seq == events[2].seq


async def test_truncated_tail_is_detected(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    log = await _filled(any_db, master_key, clock)
    events = await log.tail(5)
    async with any_db.begin() as conn:
        await conn.execute(delete(audit_events).where(audit_events.c.seq == events[-1].seq))
    report = await log.verify()
    assert not report.ok and "missing" in (report.problem or "")


async def test_reforged_chain_without_key_fails(any_db: Database, clock: ManualClock) -> None:
    """Someone with database access but not the master key cannot rebuild the chain."""
    log = await _filled(any_db, MasterKey(b"\x01" * 32), clock)
    other = AuditLog(any_db, MasterKey(b"\x02" * 32), clock)
    assert not (await other.verify()).ok
    assert (await log.verify()).ok


async def test_concurrent_appends_keep_one_chain(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    log = AuditLog(any_db, master_key, clock)
    await asyncio.gather(
        *(log.record("auth.refresh", "success", subject=str(i)) for i in range(30))
    )
    report = await log.verify()
    assert report.ok and report.checked == 30


async def test_two_writers_on_one_database(
    db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    """Two AuditLog objects (as two processes would have) still form one chain."""
    a, b = AuditLog(db, master_key, clock), AuditLog(db, master_key, clock)
    await asyncio.gather(*(x.record("t", "success") for x in (a, b) * 10))
    assert (await a.verify()).ok
    async with db.connect() as conn:
        head = (await conn.execute(audit_head.select())).one()
    assert head.seq == 20


async def test_rollback_leaves_no_event(
    db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    """An event written with the caller's transaction disappears with it (no half decision)."""
    log = AuditLog(db, master_key, clock)
    try:
        async with db.begin() as conn:
            await log.record("auth.register", "success", conn=conn)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert await log.tail(10) == []
    assert (await log.verify()).ok


async def test_event_fields(db: Database, master_key: MasterKey, clock: ManualClock) -> None:
    log = AuditLog(db, master_key, clock, ip_mode="masked")
    await log.record(
        "auth.login", "success", subject="u1", ip="198.51.100.77", details={"amr": "pwd"}
    )
    (event,) = await log.tail(1)
    assert event.action == "auth.login" and event.outcome == "success" and event.subject == "u1"
    assert event.ip == "198.51.100.0/24"
    assert event.ts == clock.now()
    assert event.details == {"amr": "pwd"}


def test_mask_ip_modes() -> None:
    assert mask_ip("2001:db8:1:2::5", "masked") == "2001:db8:1::/48"
    assert mask_ip("198.51.100.77", "full") == "198.51.100.77"
    assert mask_ip("198.51.100.77", "none") is None
    assert mask_ip("not-an-ip", "masked") is None


async def test_sampled_events_fold_repeats(
    db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    """A flood of repeatable denials (forged tokens) writes one event per key and window,
    and the next one says how many were folded into it."""
    from bastion.infra import MemoryHotState

    log = AuditLog(db, master_key, clock, hot=MemoryHotState(clock))
    for _ in range(50):
        await log.record_sampled(
            "verify.denied", "denied", key="bad_signature:203.0.113.0/24", reason="x"
        )
    await log.record_sampled("verify.denied", "denied", key="expired:203.0.113.0/24", reason="y")
    assert len(await log.tail(100)) == 2
    clock.advance(11)
    await log.record_sampled(
        "verify.denied", "denied", key="bad_signature:203.0.113.0/24", reason="x"
    )
    events = await log.tail(100)
    assert len(events) == 3 and events[-1].details == {"suppressed": 49}
    assert (await log.verify()).ok


async def test_head_cache_heals_after_another_writer(
    db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    """The in-memory chain head goes stale when another process appends; it re-reads."""
    a, b = AuditLog(db, master_key, clock), AuditLog(db, master_key, clock)
    await a.record("one", "success")
    await b.record("two", "success")
    await a.record("three", "success")
    report = await a.verify()
    assert report.ok and report.checked == 3
