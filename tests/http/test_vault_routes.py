"""``/v1/vault`` in process: scopes (401/403), bad input (422), 404, 410 after shredding,
lookups by GET and POST, erasure (ASVS V14.2.1, V14.3.2, V16.3.2, V11.3.3)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bastion.sessions import DeviceInfo, TokenPair
from tests.http.conftest import PASSWORD, assert_problem, error_fields

PHONE = "+86 138 0013 8000"


async def api_key(guard: Any, *scopes: str) -> dict[str, str]:
    full, _ = await guard.apikeys.create("backend", scopes, owner_service="backend")
    return {"X-API-Key": full}


async def session_of(guard: Any, name: str) -> tuple[str, dict[str, str]]:
    registered = await guard.identity.register(name, PASSWORD)
    pair = await guard.identity.login(name, PASSWORD, DeviceInfo(ip="198.51.100.1"))
    assert isinstance(pair, TokenPair)
    return registered.user_id, {"Authorization": f"Bearer {pair.access_token}"}


@pytest.fixture
async def full(guard: Any) -> dict[str, str]:
    return await api_key(guard, "vault:read", "vault:write", "vault:lookup", "vault:erase")


async def test_put_get_lookup_delete(client: httpx.AsyncClient, full: dict[str, str]) -> None:
    r = await client.put("/v1/vault/u1/phone", json={"value": PHONE}, headers=full)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.json()["indexed"] is True and "value" not in r.json()
    r = await client.put("/v1/vault/u1/phone", json={"value": PHONE}, headers=full)
    assert r.status_code == 200 and r.json()["version"] == 2
    r = await client.get("/v1/vault/u1/phone", headers=full)
    assert r.status_code == 200 and r.json() == {"subject": "u1", "field": "phone", "value": PHONE}
    assert r.headers["cache-control"] == "no-store"  # ASVS V14.3.2
    r = await client.post(
        "/v1/vault/lookup", json={"field": "phone", "value": "13800138000"}, headers=full
    )
    assert r.status_code == 200 and r.json() == {"subjects": ["u1"]}
    r = await client.get(
        "/v1/vault/lookup", params={"field": "phone", "value": "138-0013-8000"}, headers=full
    )
    assert r.status_code == 200 and r.json() == {"subjects": ["u1"]}
    assert (await client.delete("/v1/vault/u1/phone", headers=full)).status_code == 204
    assert_problem(await client.get("/v1/vault/u1/phone", headers=full), 404, "not-found")
    assert_problem(await client.delete("/v1/vault/u1/phone", headers=full), 404, "not-found")


async def test_no_credential_is_401(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("PUT", "/v1/vault/u1/phone"),
        ("GET", "/v1/vault/u1/phone"),
        ("DELETE", "/v1/vault/u1/phone"),
        ("DELETE", "/v1/vault/u1"),
        ("GET", "/v1/vault/lookup?field=phone&value=1"),
    ):
        body = {"value": PHONE} if method == "PUT" else None
        r = await client.request(method, path, json=body)
        assert_problem(r, 401, "invalid-token")
    r = await client.get("/v1/vault/u1/phone", headers={"X-API-Key": "bst_live_nope"})
    assert_problem(r, 401, "invalid-token")


async def test_each_route_needs_its_scope(client: httpx.AsyncClient, guard: Any) -> None:
    """ASVS V16.3.2: each refusal names the missing scope and is an ``authz.denied`` event."""
    writer = await api_key(guard, "vault:write")
    reader = await api_key(guard, "vault:read")
    assert (
        await client.put("/v1/vault/u1/phone", json={"value": PHONE}, headers=writer)
    ).status_code == 201
    cases = [
        (client.get("/v1/vault/u1/phone", headers=writer), "vault:read"),
        (client.put("/v1/vault/u1/phone", json={"value": PHONE}, headers=reader), "vault:write"),
        (client.delete("/v1/vault/u1/phone", headers=reader), "vault:write"),
        (client.delete("/v1/vault/u1", headers=writer), "vault:erase"),
        (client.post("/v1/vault/lookup", json={"field": "phone", "value": PHONE}, headers=reader),
         "vault:lookup"),
        (client.get("/v1/vault/lookup?field=phone&value=1", headers=writer), "vault:lookup"),
    ]  # fmt: skip
    for request, scope in cases:
        body = assert_problem(await request, 403, "missing-scope")
        assert body["missing"] == [scope]
    denied = [e for e in await guard.audit.tail(50) if e.action == "authz.denied"]
    assert len(denied) == len(cases)
    assert (await client.get("/v1/vault/u1/phone", headers=reader)).json()["value"] == PHONE


async def test_a_user_reads_only_their_own_subject(client: httpx.AsyncClient, guard: Any) -> None:
    alice_id, alice = await session_of(guard, "alice")
    bob_id, bob = await session_of(guard, "bob")
    await guard.vault.put(alice_id, "phone", PHONE)
    r = await client.get(f"/v1/vault/{alice_id}/phone", headers=alice)
    assert r.status_code == 200 and r.json()["value"] == PHONE
    assert_problem(await client.get(f"/v1/vault/{alice_id}/phone", headers=bob), 403)
    r = await client.put(f"/v1/vault/{alice_id}/phone", json={"value": "+1 650 253 0000"},
                         headers=alice)  # fmt: skip
    assert_problem(r, 403, "missing-scope")
    assert bob_id != alice_id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": 13800138000}, "value"),
        ({"value": None}, "value"),
        ({"value": ["x"]}, "value"),
        ({"value": {"x": 1}}, "value"),
        ({"value": True}, "value"),
        ({"value": ""}, "value"),
        ({"value": "x" * 4097}, "value"),
        ({"value": "x" * 60000}, "value"),
        ({}, "value"),
        ({"value": PHONE, "extra": 1}, "extra"),
        ({"value": "call me maybe"}, "value"),
    ],
)
async def test_bad_values_are_422(
    client: httpx.AsyncClient, guard: Any, full: dict[str, str], body: Any, field: str
) -> None:
    r = await client.put("/v1/vault/u1/phone", json=body, headers=full)
    problem = assert_problem(r, 422)
    assert field in error_fields(problem)
    assert "call me" not in r.text and "13800138000" not in r.text
    assert await guard.vault.entries("u1") == []


async def test_a_body_over_the_server_limit_is_413_unread(
    client: httpx.AsyncClient, full: dict[str, str]
) -> None:
    r = await client.put("/v1/vault/u1/note", json={"value": "x" * 70000}, headers=full)
    assert_problem(r, 413, "payload-too-large")


@pytest.mark.parametrize(
    "path",
    ["/v1/vault/u1/Phone", "/v1/vault/u1/1x", "/v1/vault/-u1/phone", "/v1/vault/u1/" + "p" * 65],
)
async def test_bad_names_are_422(
    client: httpx.AsyncClient, full: dict[str, str], path: str
) -> None:
    assert_problem(await client.put(path, json={"value": PHONE}, headers=full), 422)
    assert_problem(await client.get(path, headers=full), 422)


async def test_lookup_bad_input(client: httpx.AsyncClient, full: dict[str, str]) -> None:
    r = await client.post("/v1/vault/lookup", json={"field": "address", "value": "x"}, headers=full)
    assert_problem(r, 422, "vault-field-not-indexed")
    r = await client.post("/v1/vault/lookup", json={"field": "phone", "value": 1}, headers=full)
    assert_problem(r, 422, "invalid-input")
    r = await client.get("/v1/vault/lookup?field=phone&value=garbage", headers=full)
    assert_problem(r, 422, "invalid-vault-value")
    r = await client.get("/v1/vault/lookup?field=phone", headers=full)
    assert_problem(r, 422, "invalid-input")


async def test_a_shredded_subject_is_410_with_no_data(
    client: httpx.AsyncClient, guard: Any, full: dict[str, str]
) -> None:
    await client.put("/v1/vault/u1/phone", json={"value": PHONE}, headers=full)
    await guard.crypto.shred("u1")
    r = await client.get("/v1/vault/u1/phone", headers=full)
    body = assert_problem(r, 410, "subject-shredded")
    assert "0013 8000" not in r.text and "value" not in body
    r = await client.put("/v1/vault/u1/phone", json={"value": PHONE}, headers=full)
    assert_problem(r, 410, "subject-shredded")


async def test_erasing_a_subject(client: httpx.AsyncClient, full: dict[str, str]) -> None:
    for field, value in (("phone", PHONE), ("email", "a@example.com"), ("address", "x")):
        await client.put(f"/v1/vault/u1/{field}", json={"value": value}, headers=full)
    r = await client.delete("/v1/vault/u1", headers=full)
    assert r.status_code == 200 and r.json() == {"erased_fields": 3}
    r = await client.post("/v1/vault/lookup", json={"field": "phone", "value": PHONE}, headers=full)
    assert r.json() == {"subjects": []}
    assert_problem(await client.get("/v1/vault/u1/phone", headers=full), 410, "subject-shredded")
    r = await client.put("/v1/vault/u1/phone", json={"value": PHONE}, headers=full)
    assert_problem(r, 410, "subject-shredded")


async def test_a_moved_ciphertext_is_a_generic_500(
    raw_client: httpx.AsyncClient, guard: Any, full: dict[str, str]
) -> None:
    """ASVS V11.3.3 / V16.5.1: a ciphertext moved to another subject fails closed with an
    opaque problem."""
    from sqlalchemy import select, update

    from bastion.infra.schema import vault_entries as t

    await raw_client.put("/v1/vault/victim/phone", json={"value": PHONE}, headers=full)
    await raw_client.put("/v1/vault/thief/phone", json={"value": "+86 139 0000 0000"},
                         headers=full)  # fmt: skip
    async with guard.db.begin() as conn:
        blob = (
            await conn.execute(select(t.c.ciphertext).where(t.c.subject == "victim"))
        ).scalar_one()
        await conn.execute(update(t).where(t.c.subject == "thief").values(ciphertext=blob))
    r = await raw_client.get("/v1/vault/thief/phone", headers=full)
    assert_problem(r, 500, "decryption-failed")
    assert "0013 8000" not in r.text
