"""``/v1/apikeys`` and API keys at ``/v1/verify`` (ASVS V8.2.1, V8.2.2, V11.5.1; API5:2023)."""

from __future__ import annotations

from typing import Any

import httpx

from bastion.sessions import DeviceInfo, TokenPair
from tests.http.conftest import PASSWORD, PROBLEM


async def _bearer(guard: Any, name: str, *, admin: bool = False) -> dict[str, str]:
    await guard.identity.register(name, PASSWORD, is_admin=admin)
    pair = await guard.identity.login(name, PASSWORD, DeviceInfo(ip="198.51.100.1"))
    assert isinstance(pair, TokenPair)
    return {"Authorization": f"Bearer {pair.access_token}"}


async def test_user_key_lifecycle_and_forward_auth(client: httpx.AsyncClient, guard: Any) -> None:
    alice = await _bearer(guard, "alice")
    r = await client.post("/v1/apikeys", json={"name": "script", "scopes": ["user"]}, headers=alice)
    assert r.status_code == 201, r.text
    key, key_id = r.json()["key"], r.json()["id"]
    assert key.startswith("bst_live_") and "key_hash" not in r.json()
    listed = (await client.get("/v1/apikeys", headers=alice)).json()["keys"]
    assert [k["id"] for k in listed] == [key_id] and all("key" not in k for k in listed)
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        v = await client.get("/v1/verify", headers=headers)
        assert v.status_code == 200, v.text
        assert v.headers["x-bastion-key"] == key_id and v.headers["x-bastion-scopes"] == "user"
        assert "x-bastion-session" not in v.headers
    rotated = await client.post(
        f"/v1/apikeys/{key_id}/rotate", json={"overlap_seconds": 0}, headers=alice
    )
    assert rotated.status_code == 201
    assert (
        await client.get("/v1/verify", headers={"X-API-Key": rotated.json()["key"]})
    ).status_code == 200
    assert (await client.delete(f"/v1/apikeys/{key_id}", headers=alice)).status_code == 204


async def test_no_scope_escalation_through_a_key(client: httpx.AsyncClient, guard: Any) -> None:
    """API5:2023: a user cannot mint a key with scopes it does not hold, nor a service key."""
    alice = await _bearer(guard, "alice")
    r = await client.post("/v1/apikeys", json={"name": "x", "scopes": ["admin"]}, headers=alice)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    r = await client.post(
        "/v1/apikeys",
        json={"name": "x", "scopes": ["user"], "owner_service": "acme"},
        headers=alice,
    )
    assert r.status_code == 403
    assert await guard.apikeys.list() == []


async def test_admin_issues_service_keys_and_sees_all(
    client: httpx.AsyncClient, guard: Any
) -> None:
    root = await _bearer(guard, "root", admin=True)
    body = {"name": "acme", "scopes": ["orders:read"], "owner_service": "acme", "rate": "100/min"}
    r = await client.post("/v1/apikeys", json=body, headers=root)
    assert r.status_code == 201, r.text
    v = await client.get("/v1/verify", headers={"X-API-Key": r.json()["key"]})
    assert v.headers["x-bastion-subject"] == "service:acme"
    assert len((await client.get("/v1/apikeys", headers=root)).json()["keys"]) == 1


async def test_other_users_keys_are_not_found(client: httpx.AsyncClient, guard: Any) -> None:
    """ASVS V8.2.2 / API1:2023: another user's key id is 404 for show, rotate and revoke."""
    alice, bob = await _bearer(guard, "alice"), await _bearer(guard, "bob")
    key_id = (
        await client.post("/v1/apikeys", json={"name": "a", "scopes": ["user"]}, headers=alice)
    ).json()["id"]
    assert (await client.get(f"/v1/apikeys/{key_id}", headers=bob)).status_code == 404
    assert (
        await client.post(f"/v1/apikeys/{key_id}/rotate", json={}, headers=bob)
    ).status_code == 404
    assert (await client.delete(f"/v1/apikeys/{key_id}", headers=bob)).status_code == 404
    assert (await guard.apikeys.show(key_id)).revoked_at is None


async def test_bad_keys_at_verify_are_one_opaque_401(client: httpx.AsyncClient, guard: Any) -> None:
    """Malformed, bad checksum and unknown keys look the same; two credentials are refused."""
    alice = await _bearer(guard, "alice")
    key = (
        await client.post("/v1/apikeys", json={"name": "a", "scopes": ["user"]}, headers=alice)
    ).json()["key"]
    typo = key[:-1] + ("A" if key[-1] != "A" else "B")
    bodies = []
    for headers in ({"X-API-Key": "bst_nope"}, {"X-API-Key": typo}, {"X-API-Key": key, **alice}):
        r = await client.get("/v1/verify", headers=headers)
        assert r.status_code == 401
        bodies.append({k: v for k, v in r.json().items() if k != "request_id"})
    assert bodies[0] == bodies[1] == bodies[2]
    assert key not in str(bodies)
