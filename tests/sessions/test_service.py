"""Sessions: refresh rotation and reuse detection, timeouts, limits, revocation (ASVS V7)."""

from __future__ import annotations

import asyncio

import pytest

from bastion import Bastion
from bastion.errors import InvalidToken, NotFound
from bastion.infra import ManualClock
from bastion.sessions import DeviceInfo, TokenPair

PASSWORD = "violet tractor hums at dawn"


async def _login(guard: Bastion, name: str = "alice", device: str | None = None) -> TokenPair:
    guard.clock.advance(1)  # type: ignore[attr-defined]  # distinct creation times
    if await guard.identity.users.by_username(name) is None:
        await guard.identity.register(name, PASSWORD)
    pair = await guard.identity.login(
        name, PASSWORD, DeviceInfo(ip="198.51.100.1", device_id=device, user_agent="pytest")
    )
    assert isinstance(pair, TokenPair)
    return pair


async def test_refresh_rotates_and_keeps_session(any_guard: Bastion) -> None:
    pair = await _login(any_guard)
    new = await any_guard.sessions.refresh(pair.refresh_token)
    assert new.refresh_token != pair.refresh_token and new.session_id == pair.session_id
    assert len(new.refresh_token) >= 43  # 256 bits, base64url
    claims = await any_guard.sessions.verify_access(new.access_token)
    assert claims.session_id == pair.session_id


async def test_reuse_after_grace_revokes_the_session(
    any_guard: Bastion, clock: ManualClock
) -> None:
    """ASVS V10.4.5 (by analogy): a replayed refresh token revokes the whole family."""
    pair = await _login(any_guard)
    new = await any_guard.sessions.refresh(pair.refresh_token)
    clock.advance(3)
    with pytest.raises(InvalidToken):
        await any_guard.sessions.refresh(pair.refresh_token)
    with pytest.raises(InvalidToken):
        await any_guard.sessions.refresh(new.refresh_token)
    with pytest.raises(InvalidToken):
        await any_guard.sessions.verify_access(new.access_token)
    events = [e.action for e in await any_guard.audit.tail(5)]
    assert "auth.refresh.reuse_detected" in events


async def test_concurrent_refresh_within_grace_gets_same_successor(
    any_guard: Bastion, clock: ManualClock
) -> None:
    pair = await _login(any_guard)
    first = await any_guard.sessions.refresh(pair.refresh_token)
    clock.advance(1)
    second = await any_guard.sessions.refresh(pair.refresh_token)
    assert second.refresh_token == first.refresh_token
    await any_guard.sessions.verify_access(second.access_token)
    third = await any_guard.sessions.refresh(second.refresh_token)
    assert third.refresh_token != second.refresh_token


async def test_simultaneous_refreshes_do_not_revoke(guard: Bastion) -> None:
    pair = await _login(guard)
    results = await asyncio.gather(*(guard.sessions.refresh(pair.refresh_token) for _ in range(4)))
    assert len({r.refresh_token for r in results}) == 1


async def test_older_generation_is_reuse_even_within_grace(guard: Bastion) -> None:
    pair = await _login(guard)
    one = await guard.sessions.refresh(pair.refresh_token)
    await guard.sessions.refresh(one.refresh_token)
    with pytest.raises(InvalidToken):
        await guard.sessions.refresh(pair.refresh_token)


async def test_refresh_token_stored_only_hashed(guard: Bastion) -> None:
    from sqlalchemy import select

    from bastion.infra.schema import refresh_tokens, sessions

    pair = await _login(guard)
    async with guard.db.connect() as conn:
        rows = [tuple(r) for r in (await conn.execute(select(refresh_tokens))).all()]
        rows += [tuple(r) for r in (await conn.execute(select(sessions))).all()]
    assert pair.refresh_token not in repr(rows)
    assert pair.refresh_token[4:] not in repr(rows)


@pytest.mark.parametrize("token", ["", "bsr_", "bsr_" + "A" * 43, "x" * 300, "eyJhbGciOi.x.y"])
async def test_garbage_refresh_tokens(guard: Bastion, token: str) -> None:
    with pytest.raises(InvalidToken):
        await guard.sessions.refresh(token)


async def test_idle_timeout(guard: Bastion, clock: ManualClock) -> None:
    """ASVS V7.3.1: a session unused for longer than the idle timeout cannot be refreshed."""
    pair = await _login(guard)
    clock.advance(guard.settings.sessions.idle_timeout_seconds + 1)
    with pytest.raises(InvalidToken):
        await guard.sessions.refresh(pair.refresh_token)


async def test_activity_keeps_session_alive_until_absolute_limit(
    guard: Bastion, clock: ManualClock
) -> None:
    """ASVS V7.3.2: refreshing keeps it alive, but never past the absolute lifetime."""
    pair = await _login(guard)
    step = guard.settings.sessions.idle_timeout_seconds - 60
    token = pair.refresh_token
    elapsed = 0
    while elapsed + step < guard.settings.sessions.absolute_lifetime_seconds:
        clock.advance(step)
        elapsed += step
        token = (await guard.sessions.refresh(token)).refresh_token
    clock.advance(guard.settings.sessions.absolute_lifetime_seconds - elapsed)
    with pytest.raises(InvalidToken):
        await guard.sessions.refresh(token)


async def test_access_token_expires(guard: Bastion, clock: ManualClock) -> None:
    pair = await _login(guard)
    clock.advance(
        guard.settings.tokens.access_ttl_seconds + guard.settings.tokens.leeway_seconds + 1
    )
    with pytest.raises(InvalidToken):
        await guard.sessions.verify_access(pair.access_token)


async def test_list_and_revoke(any_guard: Bastion) -> None:
    one = await _login(any_guard, device="phone-aaaa-1111")
    two = await _login(any_guard)
    user = (await any_guard.sessions.verify_access(one.access_token)).subject
    listed = await any_guard.sessions.list(user, current=one.session_id)
    assert [s.id for s in listed] == [two.session_id, one.session_id]
    assert (
        listed[1].current
        and listed[1].device_id == "phone-aaaa-1111"
        and listed[1].user_agent == "pytest"
    )
    await any_guard.sessions.revoke(user, two.session_id)
    with pytest.raises(InvalidToken):
        await any_guard.sessions.verify_access(two.access_token)
    with pytest.raises(InvalidToken):
        await any_guard.sessions.refresh(two.refresh_token)
    with pytest.raises(NotFound):
        await any_guard.sessions.revoke(user, two.session_id)


async def test_cannot_revoke_other_users_session(guard: Bastion) -> None:
    alice = await _login(guard, "alice")
    bob = await _login(guard, "bob")
    alice_id = (await guard.sessions.verify_access(alice.access_token)).subject
    with pytest.raises(NotFound):
        await guard.sessions.revoke(alice_id, bob.session_id)
    await guard.sessions.verify_access(bob.access_token)


async def test_max_sessions_evicts_oldest(guard: Bastion) -> None:
    """ASVS V7.1.2: at most ``max_per_user`` live sessions (default 10); the oldest goes."""
    pairs = [await _login(guard) for _ in range(guard.settings.sessions.max_per_user + 1)]
    with pytest.raises(InvalidToken):
        await guard.sessions.verify_access(pairs[0].access_token)
    await guard.sessions.verify_access(pairs[-1].access_token)


async def test_revocations_survive_restart(tmp_path: object, clock: ManualClock) -> None:
    """A revoked session stays refused by a freshly started process (loaded from the DB)."""
    from pathlib import Path

    from tests.conftest import make_settings

    settings = make_settings(Path(str(tmp_path)))
    first = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    pair = await _login(first)
    user = (await first.sessions.verify_access(pair.access_token)).subject
    await first.admin.delete(user)
    await first.close()
    second = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    try:
        with pytest.raises(InvalidToken):
            await second.sessions.verify_access(pair.access_token)
    finally:
        await second.close()


@pytest.mark.redis
async def test_revocation_reaches_other_replica_within_a_second(
    tmp_path: object, clock: ManualClock
) -> None:
    """Two replicas on PostgreSQL + Redis: a logout on one is refused by the other < 1 s."""
    import time
    import uuid
    from pathlib import Path

    from tests.conftest import REDIS_URL, make_settings, postgres_url, require_service

    require_service("Redis", REDIS_URL, 6379)
    url = await postgres_url()
    redis = {"url": REDIS_URL, "prefix": f"rep{uuid.uuid4().hex[:8]}:"}
    settings = make_settings(Path(str(tmp_path)), database={"url": url}, redis=redis)
    a = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    b = await Bastion.open(settings, clock=clock, run_migrations=False)  # type: ignore[arg-type]
    try:
        pair = await _login(a, f"rep{uuid.uuid4().hex[:6]}")
        await b.sessions.verify_access(pair.access_token)
        claims = await a.sessions.verify_access(pair.access_token)
        start = time.monotonic()
        await a.sessions.revoke(claims.subject, claims.session_id)
        while b.sessions.verify_access_cached(pair.access_token) is not None:
            assert time.monotonic() - start < 1.0, (
                "revocation did not reach the other replica in 1 s"
            )
            await asyncio.sleep(0.005)
        with pytest.raises(InvalidToken):
            await b.sessions.verify_access(pair.access_token)
    finally:
        await a.close()
        await b.close()


async def test_new_session_is_never_the_one_evicted(guard: Bastion) -> None:
    """Logins at the same instant: the newest session always survives the per-user cap."""
    await guard.identity.register("alice", PASSWORD)
    for _ in range(guard.settings.sessions.max_per_user + 3):
        pair = await guard.identity.login("alice", PASSWORD, DeviceInfo(ip="198.51.100.1"))
        assert isinstance(pair, TokenPair)
        await guard.sessions.verify_access(pair.access_token)
    user = (await guard.sessions.verify_access(pair.access_token)).subject
    assert len(await guard.sessions.list(user)) == guard.settings.sessions.max_per_user


async def test_no_access_token_outlives_its_session(guard: Bastion, clock: ManualClock) -> None:
    """ASVS V7.3.2: near the absolute end, the access token's exp is the session's end."""
    pair = await _login(guard)
    created = await _created(guard, pair.session_id)
    end = created + guard.settings.sessions.absolute_lifetime_seconds
    step = guard.settings.sessions.idle_timeout_seconds - 60
    token = pair.refresh_token
    while clock.now() + step < end - 300:
        clock.advance(step)
        token = (await guard.sessions.refresh(token)).refresh_token
    clock.set(end - 300)
    late = await guard.sessions.refresh(token)
    assert late.expires_in <= 300
    claims = await guard.sessions.verify_access(late.access_token)
    assert claims.expires_at <= end


async def _created(guard: Bastion, session_id: str) -> float:
    from sqlalchemy import select

    from bastion.infra.schema import sessions

    async with guard.db.connect() as conn:
        return float(
            (
                await conn.execute(select(sessions.c.created_at).where(sessions.c.id == session_id))
            ).scalar_one()
        )
