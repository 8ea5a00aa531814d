"""``guard.signatures``: derived keys, verification order, replay, skew and tamper (ASVS
V11.4.3 full-length MACs, V2.3.4 atomic nonce use, V16.3.3 rejections audited)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from bastion import Bastion
from bastion.errors import InvalidSignature
from bastion.infra import ManualClock
from bastion.infra.schema import audit_events, sessions
from bastion.sessions import DeviceInfo, TokenPair
from bastion.signing import IssuedKey
from bastion.signing._keys import MAX_REMEMBERED
from bastion.signing._mac import hmac_sha256
from tests.signing.helpers import as_request, signed

PASSWORD = "violet tractor hums at dawn"


async def _session(guard: Bastion, name: str = "alice") -> tuple[TokenPair, IssuedKey]:
    await guard.identity.register(name, PASSWORD)
    pair = await guard.identity.login(name, PASSWORD, DeviceInfo(ip="198.51.100.1"))
    assert isinstance(pair, TokenPair)
    return pair, guard.signatures.session_key(pair.session_id)


async def _reason(guard: Bastion, headers: dict[str, str], body: bytes | None, **kw: str) -> str:
    with pytest.raises(InvalidSignature) as caught:
        await guard.signatures.verify(as_request(headers, **kw), body=body)
    return caught.value.reason


async def test_session_key_verifies_once(any_guard: Bastion, clock: ManualClock) -> None:
    pair, key = await _session(any_guard)
    assert key.key_id == f"s:{pair.session_id}" and len(key.secret) == 32
    headers, body = signed(key, created=clock.now())
    verified = await any_guard.signatures.verify(as_request(headers), body=body)
    assert verified.key_id == key.key_id and verified.session_id == pair.session_id
    assert await _reason(any_guard, headers, body) == "replayed"


async def test_derived_keys_are_per_owner_and_stable(guard: Bastion) -> None:
    a, b = guard.signatures.session_key("x1"), guard.signatures.session_key("x2")
    assert a.secret != b.secret and guard.signatures.session_key("x1") == a
    assert guard.signatures.api_key_key("x1").secret != a.secret  # the kind is in the key id
    assert a.encoded not in repr(a) and "secret" not in repr(a)


@pytest.mark.parametrize("offset", [-300, 300, -1, 0])
async def test_inside_the_skew_window_is_accepted(
    guard: Bastion, clock: ManualClock, offset: int
) -> None:
    _, key = await _session(guard)
    headers, body = signed(key, created=clock.now() + offset)
    await guard.signatures.verify(as_request(headers), body=body)


@pytest.mark.parametrize("offset", [-301, 301, -86400])
async def test_skewed_time_is_stale(guard: Bastion, clock: ManualClock, offset: int) -> None:
    _, key = await _session(guard)
    headers, body = signed(key, created=clock.now() + offset)
    assert await _reason(guard, headers, body) == "stale"


async def test_nonce_is_kept_while_the_request_could_be_accepted(
    any_guard: Bastion, clock: ManualClock
) -> None:
    """A request made 300 s in the future stays valid for 600 s: its nonce must too."""
    _, key = await _session(any_guard)
    headers, body = signed(key, created=clock.now() + 300)
    await any_guard.signatures.verify(as_request(headers), body=body)
    clock.advance(599)
    assert await _reason(any_guard, headers, body) == "replayed"
    clock.advance(2)
    assert await _reason(any_guard, headers, body) == "stale"


async def test_concurrent_replays_accept_exactly_one(
    any_guard: Bastion, clock: ManualClock
) -> None:
    """ASVS V2.3.4: 20 parallel uses of one signed request; the nonce is spent atomically."""
    _, key = await _session(any_guard)
    headers, body = signed(key, created=clock.now())
    results = await asyncio.gather(
        *(any_guard.signatures.verify(as_request(headers), body=body) for _ in range(20)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(
        isinstance(r, InvalidSignature) and r.reason == "replayed"
        for r in results
        if isinstance(r, BaseException)
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"method": "PUT"}, "bad_signature"),
        ({"path": "/api/orders/1"}, "bad_signature"),
        ({"query": "b=3&a=1"}, "bad_signature"),
        ({"query": "b=2&a=1&c=3"}, "bad_signature"),
        ({"query": "a=1&b=2"}, None),  # reordered by a proxy: still the same request
    ],
)
async def test_tampered_target(
    guard: Bastion, clock: ManualClock, change: dict[str, str], reason: str | None
) -> None:
    _, key = await _session(guard)
    headers, body = signed(key, created=clock.now())
    if reason is None:
        await guard.signatures.verify(as_request(headers, **change), body=body)
    else:
        assert await _reason(guard, headers, body, **change) == reason


async def test_changed_body_and_headers(guard: Bastion, clock: ManualClock) -> None:
    _, key = await _session(guard)
    headers, body = signed(key, created=clock.now())
    assert await _reason(guard, headers, b'{"qty":9}') == "digest_mismatch"
    forged = {**headers, "content-digest": "sha-256=:" + "A" * 43 + "=:"}
    assert await _reason(guard, forged, None) == "bad_signature"  # gateway view: no body
    retyped = {**headers, "content-type": "text/plain"}
    assert await _reason(guard, retyped, body) == "bad_signature"
    untyped = {k: v for k, v in headers.items() if k != "content-type"}
    assert await _reason(guard, untyped, body) == "bad_signature"


async def test_content_type_must_be_covered_when_present(
    guard: Bastion, clock: ManualClock
) -> None:
    """A Content-Type added to a request signed without one is refused, not ignored."""
    _, key = await _session(guard)
    headers, body = signed(key, created=clock.now(), headers={})
    await guard.signatures.verify(as_request(headers), body=body)
    headers, body = signed(key, created=clock.now(), headers={})
    added = {**headers, "content-type": "application/json"}
    assert await _reason(guard, added, body) == "unsupported"


async def test_unknown_revoked_and_expired_keys(guard: Bastion, clock: ManualClock) -> None:
    pair, key = await _session(guard)
    other = IssuedKey("x:" + pair.session_id, key.secret)
    headers, body = signed(other, created=clock.now())
    assert await _reason(guard, headers, body) == "unknown_key"
    made_up = guard.signatures.session_key("0" * 32)  # a key of a session that never existed
    headers, body = signed(made_up, created=clock.now())
    assert await _reason(guard, headers, body) == "unknown_key"
    wrong_secret = IssuedKey(key.key_id, b"\x00" * 32)
    headers, body = signed(wrong_secret, created=clock.now())
    assert await _reason(guard, headers, body) == "bad_signature"

    await guard.sessions.revoke(await _owner(guard, pair), pair.session_id)
    headers, body = signed(key, created=clock.now())
    assert await _reason(guard, headers, body) == "unknown_key"


async def _owner(guard: Bastion, pair: TokenPair) -> str:
    return (await guard.sessions.verify_access(pair.access_token)).subject


async def test_expired_session_key_stops(guard: Bastion, clock: ManualClock) -> None:
    _, key = await _session(guard)
    clock.advance(guard.settings.sessions.absolute_lifetime_seconds + 1)
    headers, body = signed(key, created=clock.now())
    assert await _reason(guard, headers, body) == "unknown_key"


async def test_api_key_secret_verifies_until_revoked(
    any_guard: Bastion, clock: ManualClock
) -> None:
    full, info = await any_guard.apikeys.create("acme", ["orders:read"], owner_service="acme")
    key = any_guard.signatures.api_key_key(info.id)
    assert key.key_id == f"k:{info.id}" and key.encoded not in full
    headers, body = signed(key, created=clock.now())
    verified = await any_guard.signatures.verify(as_request(headers), body=body)
    assert verified.subject == "service:acme" and verified.api_key_id == info.id
    await any_guard.apikeys.revoke(info.id)
    headers, body = signed(key, created=clock.now())
    assert await _reason(any_guard, headers, body) == "unknown_key"


async def test_signature_must_use_the_presented_credentials_key(
    guard: Bastion, clock: ManualClock
) -> None:
    pair, key = await _session(guard)
    headers, body = signed(key, created=clock.now())
    with pytest.raises(InvalidSignature) as caught:
        await guard.signatures.verify(as_request(headers), body=body, session_id="another")
    assert caught.value.reason == "wrong_key"
    await guard.signatures.verify(as_request(headers), body=body, session_id=pair.session_id)


async def test_rejections_are_audited_without_values(guard: Bastion, clock: ManualClock) -> None:
    """ASVS V16.3.3: each refusal is an audit event naming the reason, never a value."""
    _, key = await _session(guard)
    headers, body = signed(key, created=clock.now() - 1000)
    await _reason(guard, headers, body)
    async with guard.db.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_events).where(audit_events.c.action == "signature.rejected")
            )
        ).all()
    assert [r.reason for r in rows] == ["stale"]
    text = repr([tuple(r) for r in rows])
    assert headers["signature"].split(":")[1] not in text and key.encoded not in text


def test_remembered_mac_keys_are_the_derived_ones_and_bounded(guard: Bastion) -> None:
    keys = guard.signatures._keys
    secret = guard.signatures.session_key("a").secret
    first = keys.mac_key("s:a")
    assert keys.mac_key("s:a") is first
    assert first.mac(b"m") == hmac_sha256(secret, b"m") and keys.secret("s:a") == secret
    for i in range(MAX_REMEMBERED + 1):
        keys.mac_key(f"s:{i}")
    assert 0 < len(keys._remembered) <= MAX_REMEMBERED
    again = keys.mac_key("s:a")  # forgotten, then set up again: the same key
    assert again is not first and again.mac(b"m") == first.mac(b"m")


async def test_the_session_row_is_cached_for_key_cache_seconds(
    guard: Bastion, clock: ManualClock
) -> None:
    """The owner check reads the session row once per ``[signing] key_cache_seconds``;
    revocation is seen at once anyway (the in-memory revocation set)."""
    pair, key = await _session(guard)
    headers, body = signed(key, created=clock.now())
    await guard.signatures.verify(as_request(headers), body=body)
    async with guard.db.begin() as conn:  # behind the services' back: only a reload sees it
        await conn.execute(
            update(sessions).where(sessions.c.id == pair.session_id).values(revoked_at=1.0)
        )
    headers, body = signed(key, created=clock.now())
    await guard.signatures.verify(as_request(headers), body=body)  # the cached row
    clock.advance(guard.settings.signing.key_cache_seconds + 1)
    headers, body = signed(key, created=clock.now())
    assert await _reason(guard, headers, body) == "unknown_key"  # reloaded: revoked
