"""API keys over SQLite + memory and PostgreSQL + Redis: creation, opaque verification, expiry,
rotation with overlap, revocation on every replica, IP allow-lists, last-used bookkeeping."""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from structlog.testing import capture_logs

from bastion.apikeys import ApiKeys, generate_key, parse_key
from bastion.crypto import MasterKey
from bastion.errors import Conflict, InvalidInput, InvalidToken, NotFound
from bastion.infra import Database, HotState, ManualClock, MemoryHotState, RedisHotState
from bastion.infra.schema import api_keys, users
from bastion.monitor import AuditLog
from tests.conftest import REDIS_URL, _postgres, _sqlite, require_service

IP = "198.51.100.7"
Backend = tuple[Database, HotState, HotState]  # the database and two replicas' hot state


@pytest.fixture(params=["sqlite-memory", "postgres-redis"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[Backend]:
    if request.param == "sqlite-memory":
        db, hot = await _sqlite(tmp_path), MemoryHotState(clock)
        yield db, hot, hot
        await db.close()
        return
    require_service("Redis", REDIS_URL, 6379)
    db, prefix = await _postgres(), f"k{uuid.uuid4().hex[:8]}:"
    one, two = RedisHotState(REDIS_URL, prefix=prefix), RedisHotState(REDIS_URL, prefix=prefix)
    yield db, one, two
    await one.close()
    await two.close()
    await db.close()


def _replica(b: Backend, clock: ManualClock, master: MasterKey, which: int = 1) -> ApiKeys:
    db, hot = b[0], (b[1] if which == 1 else b[2])
    audit = AuditLog(db, master, clock, hot=hot)
    return ApiKeys(db, hot, clock, master, audit)


@pytest.fixture
async def keys(backend: Backend, clock: ManualClock, master_key: MasterKey) -> ApiKeys:
    service = _replica(backend, clock, master_key)
    await service.start()
    return service


async def _user(db: Database, clock: ManualClock) -> str:
    user_id = uuid.uuid4().hex
    async with db.begin() as conn:
        await conn.execute(
            insert(users).values(
                id=user_id,
                username=f"u{user_id[:8]}",
                password_hash="!",
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    return user_id


async def _actions(keys: ApiKeys, action: str) -> list[str | None]:
    return [e.reason for e in await keys._audit.tail(50, action=action)]


async def test_create_shows_the_key_once_and_stores_only_a_peppered_hmac(
    keys: ApiKeys, backend: Backend, master_key: MasterKey
) -> None:
    """ASVS V11.4.2 (by analogy): the key is stored as HMAC-SHA256 under a derived pepper."""
    full, info = await keys.create("ci", ["read", "write"], owner_service="ci", rate="100/min")
    parsed = parse_key(full)
    assert (info.id, info.env, info.scopes) == (parsed.unverified_id, "live", ("read", "write"))
    assert info.rate == "100/min" and info.owner_service == "ci"
    async with backend[0].connect() as conn:
        row = (await conn.execute(select(api_keys).where(api_keys.c.id == info.id))).one()
    pepper = master_key.derive("bastion/apikey-pepper/v1")
    expected = hmac.digest(pepper, parsed.unverified_body.encode(), "sha256").hex()
    assert row.key_hash == expected
    secret = full.rsplit("_", 1)[1]
    assert all(secret[:20] not in str(v) for v in row)


async def test_verify_returns_the_principal_and_then_hits_the_cache(
    keys: ApiKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    full, info = await keys.create("ci", ["read"], owner_service="ci")
    principal = await keys.verify(full, ip=IP)
    assert principal.key_id == info.id and principal.scopes == frozenset({"read"})
    loads: list[str] = []
    original = keys._store.get

    async def counting(key_id: str, conn: object = None) -> object:
        loads.append(key_id)
        return await original(key_id)

    monkeypatch.setattr(keys._store, "get", counting)
    for _ in range(5):
        assert await keys.verify(full, ip=IP) == principal
    assert loads == []


@pytest.mark.parametrize(
    "problem",
    [
        {"scopes": []},
        {"owner_service": None},
        {"owner_user_id": "0" * 32},
        {"env": "Live"},
        {"rate": "lots"},
        {"ip_allow": ["10.0.0.0/33"]},
        {"expires_in": -1},
    ],
)
async def test_create_refuses_bad_fields(keys: ApiKeys, problem: dict[str, object]) -> None:
    """ASVS V8.2.1 (by analogy): scopes are required; there is no implicit "all"."""
    args: dict[str, object] = {"owner_service": "ci", **problem}
    if "owner_user_id" in problem:
        args.pop("owner_service")
    with pytest.raises(InvalidInput):
        await keys.create("ci", args.pop("scopes", ["read"]), **args)  # type: ignore[arg-type]
    assert await keys.list(include_revoked=True) == []


async def test_every_failure_is_the_same_error_after_one_hmac(
    keys: ApiKeys, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ASVS V6.3.8 (by analogy): malformed keys, bad checksums, unknown ids, wrong secrets,
    revoked and expired keys answer alike, each after exactly one HMAC; the reason is audited."""
    full, info = await keys.create("ci", ["read"], owner_service="ci", expires_in=60)
    gone, gone_info = await keys.create("old", ["read"], owner_service="ci")
    await keys.revoke(gone_info.id)
    other = generate_key("live", info.id)  # right id and checksum, wrong secret
    unknown = generate_key("live", "f" * 32)
    typo = full[:-1] + ("A" if full[-1] != "A" else "B")
    hashes: list[str] = []
    original = keys._hash

    def counting(body: str) -> bytes:
        hashes.append(body)
        return original(body)

    monkeypatch.setattr(keys, "_hash", counting)
    cases = {"malformed": "nope", "checksum": typo, "unknown_id": unknown}
    cases |= {"bad_secret": other, "revoked": gone}
    for reason, presented in cases.items():
        hashes.clear()
        with pytest.raises(InvalidToken) as caught:
            await keys.verify(presented, ip=IP)
        assert (caught.value.reason, len(hashes)) == (reason, 1)
        assert str(caught.value) == str(InvalidToken())
    clock.advance(60)
    with pytest.raises(InvalidToken, match=str(InvalidToken())) as caught:
        await keys.verify(full, ip=IP)
    assert caught.value.reason == "expired"


async def test_failures_are_audited_sampled_and_no_secret_is_logged(keys: ApiKeys) -> None:
    """ASVS V16.2.5 (by analogy): keys never reach a log line or an audit event."""
    full, info = await keys.create("ci", ["read"], owner_service="ci")
    bad = generate_key("live", info.id)
    with capture_logs() as logs:
        await keys.verify(full, ip=IP)
        for _ in range(5):
            with pytest.raises(InvalidToken):
                await keys.verify(bad, ip=IP)
    assert await _actions(keys, "apikey.rejected") == ["bad_secret"]
    events = await keys._audit.tail(50)
    text = repr(logs) + repr(events)
    for key in (full, bad):
        assert key.rsplit("_", 1)[1][:16] not in text


async def test_create_rotate_revoke_are_audited(
    keys: ApiKeys, backend: Backend, clock: ManualClock
) -> None:
    owner = await _user(backend[0], clock)
    _, info = await keys.create("app", ["read"], owner_user_id=owner, actor="cli")
    await keys.rotate(info.id, overlap_seconds=10)
    await keys.revoke(info.id)
    events = {e.action: e for e in await keys._audit.tail(10)}
    assert events["apikey.create"].actor == "cli" and events["apikey.create"].subject == owner
    assert events["apikey.rotate"].details["previous"] == info.id  # type: ignore[index]
    assert events["apikey.revoke"].details["key"] == info.id  # type: ignore[index]
    assert [i.id for i in await keys.list(owner_user_id=owner)] != []


async def test_rotation_keeps_the_old_key_for_the_overlap_only(
    keys: ApiKeys, clock: ManualClock
) -> None:
    old, info = await keys.create("ci", ["read"], owner_service="ci", ip_allow=["198.51.100.0/24"])
    await keys.verify(old, ip=IP)  # warm the cache: rotation must evict it
    new = await keys.rotate(info.id, overlap_seconds=300)
    successor = await keys.show(parse_key(new).unverified_id)
    assert successor.rotated_from == info.id and successor.ip_allow == ("198.51.100.0/24",)
    assert (await keys.verify(new, ip=IP)).scopes == frozenset({"read"})
    clock.advance(299)
    await keys.verify(old, ip=IP)
    clock.advance(1)
    with pytest.raises(InvalidToken) as caught:
        await keys.verify(old, ip=IP)
    assert caught.value.reason == "rotated"
    await keys.verify(new, ip=IP)
    with pytest.raises(Conflict):
        await keys.rotate(info.id)


async def test_revocation_reaches_every_replica_within_a_second(
    keys: ApiKeys, backend: Backend, clock: ManualClock, master_key: MasterKey
) -> None:
    """ASVS V7.4.1 (by analogy): a revoked key is refused by the other replica's warm cache."""
    other = _replica(backend, clock, master_key, which=2)
    await other.start()
    full, info = await keys.create("ci", ["read"], owner_service="ci")
    await other.verify(full, ip=IP)
    assert len(other.cache) == 1
    start = time.monotonic()
    await keys.revoke(info.id)
    while len(other.cache):
        assert time.monotonic() - start < 1.0, "revocation did not reach the other replica"
        await asyncio.sleep(0.005)
    with pytest.raises(InvalidToken):
        await other.verify(full, ip=IP)
    await keys.revoke(info.id)  # idempotent
    with pytest.raises(NotFound):
        await keys.revoke("0" * 32)


async def test_poll_evicts_a_revocation_that_was_not_published(
    backend: Backend, clock: ManualClock, master_key: MasterKey
) -> None:
    db = backend[0]
    a = ApiKeys(db, MemoryHotState(clock), clock, master_key, AuditLog(db, master_key, clock))
    b = ApiKeys(db, MemoryHotState(clock), clock, master_key, AuditLog(db, master_key, clock))
    full, info = await a.create("ci", ["read"], owner_service="ci")
    await b.verify(full, ip=IP)
    await a.revoke(info.id)
    await b.verify(full, ip=IP)  # b never heard of it: the cache still answers
    await b.poll()
    with pytest.raises(InvalidToken):
        await b.verify(full, ip=IP)


@pytest.mark.parametrize(
    ("ip", "ok"),
    [("10.1.2.3", True), ("2001:db8::1", True), ("10.2.0.1", False), (None, False), ("x", False)],
)
async def test_ip_allow_list_fails_closed(keys: ApiKeys, ip: str | None, ok: bool) -> None:
    full, _ = await keys.create(
        "ci", ["read"], owner_service="ci", ip_allow=["10.1.0.0/16", "2001:db8::/32"]
    )
    if ok:
        await keys.verify(full, ip=ip)
        return
    with pytest.raises(InvalidToken) as caught:
        await keys.verify(full, ip=ip)
    assert caught.value.reason == "ip_not_allowed"


async def test_last_used_is_written_at_most_once_a_minute(
    keys: ApiKeys, backend: Backend, clock: ManualClock
) -> None:
    full, info = await keys.create("ci", ["read"], owner_service="ci")

    async def stored() -> float | None:
        async with backend[0].connect() as conn:
            query = select(api_keys.c.last_used_at).where(api_keys.c.id == info.id)
            return (await conn.execute(query)).scalar_one()  # type: ignore[no-any-return]

    for _ in range(10):
        await keys.verify(full, ip=IP)
    assert await stored() is None  # verification never writes
    assert (await keys.show(info.id)).last_used_at == clock.now()
    assert await keys.flush_last_used() == 1 and await stored() == clock.now()
    clock.advance(30)
    await keys.verify(full, ip=IP)
    assert await keys.flush_last_used() == 0
    assert (await keys.show(info.id)).last_used_at == clock.now()
    clock.advance(30)
    assert await keys.flush_last_used() == 1 and await stored() == clock.now() - 30


async def test_list_and_show(keys: ApiKeys) -> None:
    _, a = await keys.create("a", ["read"], owner_service="svc-a", description="nightly job")
    _, b = await keys.create("b", ["read"], owner_service="svc-b", env="test")
    await keys.revoke(b.id)
    assert [i.id for i in await keys.list(owner_service="svc-a")] == [a.id]
    assert await keys.list(owner_service="svc-b") == []
    assert [i.id for i in await keys.list(owner_service="svc-b", include_revoked=True)] == [b.id]
    assert (await keys.show(a.id)).description == "nightly job"
    with pytest.raises(NotFound):
        await keys.show("0" * 32)


async def test_concurrent_rotations_issue_one_successor(keys: ApiKeys) -> None:
    _, info = await keys.create("ci", ["read"], owner_service="ci")
    results = await asyncio.gather(
        *(keys.rotate(info.id, overlap_seconds=60) for _ in range(3)), return_exceptions=True
    )
    assert sum(isinstance(r, str) for r in results) == 1
    assert all(isinstance(r, (str, Conflict)) for r in results)
    assert len(await keys.list(owner_service="ci")) == 2


async def test_rotate_refuses_revoked_expired_and_bad_overlap(
    keys: ApiKeys, clock: ManualClock
) -> None:
    _, gone = await keys.create("a", ["read"], owner_service="ci")
    _, short = await keys.create("b", ["read"], owner_service="ci", expires_in=10)
    await keys.revoke(gone.id)
    clock.advance(10)
    for key_id in (gone.id, short.id):
        with pytest.raises(Conflict):
            await keys.rotate(key_id)
    with pytest.raises(InvalidInput):
        await keys.rotate(short.id, overlap_seconds=-1)
    with pytest.raises(NotFound):
        await keys.rotate("0" * 32)


async def test_unknown_ids_are_cached_so_floods_do_not_query(
    keys: ApiKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = generate_key("live", "e" * 32)
    with pytest.raises(InvalidToken):
        await keys.verify(unknown, ip=IP)

    async def no_queries(*args: object) -> object:
        raise AssertionError("queried the database again")

    monkeypatch.setattr(keys._store, "get", no_queries)
    for _ in range(3):
        with pytest.raises(InvalidToken):
            await keys.verify(unknown, ip=IP)


async def test_deleting_the_owner_deletes_its_keys(
    keys: ApiKeys, backend: Backend, clock: ManualClock
) -> None:
    owner = await _user(backend[0], clock)
    full, info = await keys.create("app", ["read"], owner_user_id=owner)
    async with backend[0].begin() as conn:
        await conn.execute(users.delete().where(users.c.id == owner))
    with pytest.raises(NotFound):
        await keys.show(info.id)
    keys.cache.clear()
    with pytest.raises(InvalidToken):
        await keys.verify(full, ip=IP)
