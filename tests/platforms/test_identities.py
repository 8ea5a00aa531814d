"""IdentityStore on SQLite and PostgreSQL: one subject, one user; secrets sealed per row."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from bastion.crypto import DecryptionFailed, MasterKey
from bastion.errors import Conflict
from bastion.identity import UserStore
from bastion.infra import Database, ManualClock
from bastion.infra.schema import platform_identities
from bastion.platforms._identities import Identity, IdentityStore

SESSION_KEY = b"tiihtNczf5v6AKRyjwEUhQ=="


@pytest.fixture
def store(master_key: MasterKey, clock: ManualClock) -> IdentityStore:
    return IdentityStore(master_key, clock)


async def new_user(
    db: Database, master_key: MasterKey, clock: ManualClock, name: str, pw: str = "$argon2id$x"
) -> str:
    async with db.begin() as conn:
        return await UserStore(db, master_key, clock).create(
            conn, name, pw, email=None, is_admin=False
        )


async def row(db: Database, identity: Identity) -> Any:
    async with db.connect() as conn:
        query = select(platform_identities).where(platform_identities.c.id == identity.id)
        return (await conn.execute(query)).one()


async def test_attach_find_and_list(
    any_db: Database, store: IdentityStore, master_key: MasterKey, clock: ManualClock
) -> None:
    """ASVS V10.3.3: a subject is found only under its own (platform, app id)."""
    alice = await new_user(any_db, master_key, clock, "alice")
    async with any_db.begin() as conn:
        made = await store.attach(conn, alice, "wechat", "wx-a", "o-1", "u-1")
        assert await store.find(conn, "wechat", "wx-a", "o-1") == made
        assert await store.find(conn, "wechat", "wx-b", "o-1") is None
        assert await store.find(conn, "douyin", "wx-a", "o-1") is None
        assert await store.of_user(conn, alice) == [made]
        assert await store.of_user(conn, "nobody") == []
    assert (made.user_id, made.platform, made.app_id, made.subject, made.unionid) == (
        alice, "wechat", "wx-a", "o-1", "u-1"
    )  # fmt: skip
    stored = await row(any_db, made)
    assert (stored.created_at, stored.last_login_at) == (clock.now(), clock.now())


async def test_a_subject_belongs_to_one_user(
    any_db: Database, store: IdentityStore, master_key: MasterKey, clock: ManualClock
) -> None:
    """The unique constraint refuses a second owner (Conflict) and the transaction goes on."""
    alice = await new_user(any_db, master_key, clock, "alice")
    bob = await new_user(any_db, master_key, clock, "bob")
    async with any_db.begin() as conn:
        await store.attach(conn, alice, "telegram", "42", "1001", None)
        with pytest.raises(Conflict) as caught:
            await store.attach(conn, bob, "telegram", "42", "1001", None)
        assert "1001" not in str(caught.value)
        other_bot = await store.attach(conn, bob, "telegram", "43", "1001", None)
    async with any_db.connect() as conn:
        assert [i.user_id for i in await store.of_user(conn, bob)] == [bob]
        assert (await store.find(conn, "telegram", "42", "1001")).user_id == alice  # type: ignore[union-attr]
    assert other_bot.app_id == "43"


async def test_unionid_is_looked_up_within_a_platform(
    any_db: Database, store: IdentityStore, master_key: MasterKey, clock: ManualClock
) -> None:
    alice = await new_user(any_db, master_key, clock, "alice")
    async with any_db.begin() as conn:
        await store.attach(conn, alice, "wechat", "wx-a", "o-1", "u-shared")
        assert await store.user_of_unionid(conn, "wechat", "u-shared") == alice
        assert await store.user_of_unionid(conn, "douyin", "u-shared") is None
        assert await store.user_of_unionid(conn, "wechat", "u-unknown") is None


async def test_secrets_are_sealed_and_bound_to_their_row(
    any_db: Database, store: IdentityStore, master_key: MasterKey, clock: ManualClock
) -> None:
    """ASVS V13.3.1, V14.2.4: the session_key is kept only sealed with the master key, bound
    to its identity and field: copied to another row or field it does not open."""
    alice = await new_user(any_db, master_key, clock, "alice")
    async with any_db.begin() as conn:
        one = await store.attach(conn, alice, "wechat", "wx-a", "o-1", None)
        two = await store.attach(conn, alice, "wechat", "wx-b", "o-2", None)
        assert await store.sealed_field(conn, one, "session_key") is None
        clock.advance(30)
        await store.touch(conn, one, session_key=SESSION_KEY, phone=None)
        assert await store.sealed_field(conn, one, "session_key") == SESSION_KEY
    stored = await row(any_db, one)
    assert stored.last_login_at == clock.now() and stored.phone_sealed is None
    for value in stored:
        blob = value if isinstance(value, bytes) else str(value).encode()
        assert SESSION_KEY not in blob
    async with any_db.begin() as conn:
        await conn.execute(
            update(platform_identities)
            .where(platform_identities.c.id == two.id)
            .values(
                session_key_sealed=stored.session_key_sealed, phone_sealed=stored.session_key_sealed
            )
        )
        with pytest.raises(DecryptionFailed):
            await store.sealed_field(conn, two, "session_key")
        with pytest.raises(DecryptionFailed):
            await store.sealed_field(conn, two, "phone")
    other_key = IdentityStore(MasterKey(b"\x08" * 32), clock)
    async with any_db.connect() as conn:
        with pytest.raises(DecryptionFailed):
            await other_key.sealed_field(conn, one, "session_key")


async def test_touch_without_secrets_keeps_the_sealed_ones(
    any_db: Database, store: IdentityStore, master_key: MasterKey, clock: ManualClock
) -> None:
    alice = await new_user(any_db, master_key, clock, "alice")
    async with any_db.begin() as conn:
        one = await store.attach(conn, alice, "wechat", "wx-a", "o-1", None)
        await store.touch(conn, one, session_key=SESSION_KEY)
        clock.advance(60)
        await store.touch(conn, one, session_key=None)
        assert await store.sealed_field(conn, one, "session_key") == SESSION_KEY
    assert (await row(any_db, one)).last_login_at == clock.now()


async def test_ways_in_count_identities_and_a_usable_password(
    any_db: Database, store: IdentityStore, master_key: MasterKey, clock: ManualClock
) -> None:
    with_password = await new_user(any_db, master_key, clock, "alice")
    platform_only = await new_user(any_db, master_key, clock, "wechat_x", "!unusable")
    async with any_db.begin() as conn:
        a = await store.attach(conn, with_password, "wechat", "wx-a", "o-1", None)
        b = await store.attach(conn, platform_only, "wechat", "wx-a", "o-2", None)
        c = await store.attach(conn, platform_only, "telegram", "42", "7", None)
        assert await store.other_ways_in(conn, with_password, [a]) == 1  # the password
        assert await store.other_ways_in(conn, platform_only, [b]) == 1  # telegram
        assert await store.other_ways_in(conn, platform_only, [b, c]) == 0
        await store.detach(conn, c)
        assert await store.other_ways_in(conn, platform_only, [b]) == 0
        assert await store.of_user(conn, platform_only) == [b]


async def test_deleting_the_user_deletes_the_identities(
    any_db: Database, store: IdentityStore, master_key: MasterKey, clock: ManualClock
) -> None:
    alice = await new_user(any_db, master_key, clock, "alice")
    users = UserStore(any_db, master_key, clock)
    async with any_db.begin() as conn:
        await store.attach(conn, alice, "wechat", "wx-a", "o-1", "u-1")
        await users.delete(conn, alice)
        assert await store.find(conn, "wechat", "wx-a", "o-1") is None
        assert await store.user_of_unionid(conn, "wechat", "u-1") is None


def test_identity_repr_hides_the_subject() -> None:
    """ASVS V16.2.5: platform identifiers are personal data, kept out of reprs and logs."""
    identity = Identity("id-1", "user-1", "wechat", "wx-a", "o-secret-openid", "u-secret-union")
    assert "o-secret-openid" not in repr(identity) and "u-secret-union" not in repr(identity)
    assert "wechat" in repr(identity)
