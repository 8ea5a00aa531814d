"""The vault against a started ``bastion serve`` (SQLite and PostgreSQL + Redis): an operator
issues a key with the CLI, a backend puts, gets, looks up and deletes over HTTP, and the
operator CLI sees the same data."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e
PHONE = "+86 138 0013 8000"


def _key(server: Server, scopes: str) -> dict[str, str]:
    made = server.cli("apikeys", "create", "--name", "backend", "--scopes", scopes,
                      "--service", "backend")  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = next(line for line in made.stdout.splitlines() if line.startswith("bst_"))
    return {"X-API-Key": key}


def test_put_get_lookup_delete_over_http(server: Server, http: httpx.Client) -> None:
    key = _key(server, "vault:read,vault:write,vault:lookup,vault:erase")
    r = http.put("/v1/vault/user-1/phone", json={"value": PHONE}, headers=key)
    assert r.status_code == 201, r.text
    r = http.get("/v1/vault/user-1/phone", headers=key)
    assert r.status_code == 200 and r.json()["value"] == PHONE
    assert r.headers["cache-control"] == "no-store"
    r = http.post("/v1/vault/lookup", json={"field": "phone", "value": "13800138000"}, headers=key)
    assert r.json() == {"subjects": ["user-1"]}
    r = http.get("/v1/vault/lookup", params={"field": "phone", "value": PHONE}, headers=key)
    assert r.json() == {"subjects": ["user-1"]}

    got = server.cli("vault", "get", "user-1", "phone")
    assert (got.returncode, got.stdout) == (0, PHONE + "\n"), got.stderr
    put = server.cli("vault", "put", "user-1", "email", stdin="Li.Wei@Example.com\n")
    assert put.returncode == 0, put.stderr
    r = http.post("/v1/vault/lookup", json={"field": "email", "value": "li.wei@example.COM"},
                  headers=key)  # fmt: skip
    assert r.json() == {"subjects": ["user-1"]}

    assert http.delete("/v1/vault/user-1/phone", headers=key).status_code == 204
    assert http.get("/v1/vault/user-1/phone", headers=key).status_code == 404
    r = http.delete("/v1/vault/user-1", headers=key)
    assert r.status_code == 200 and r.json() == {"erased_fields": 1}
    r = http.put("/v1/vault/user-1/phone", json={"value": PHONE}, headers=key)
    assert r.status_code == 410
    assert r.headers["content-type"] == "application/problem+json"


def test_scopes_and_bad_input_over_http(server: Server, http: httpx.Client) -> None:
    reader = _key(server, "vault:read")
    assert http.get("/v1/vault/user-2/phone").status_code == 401
    r = http.put("/v1/vault/user-2/phone", json={"value": PHONE}, headers=reader)
    assert r.status_code == 403 and r.json()["missing"] == ["vault:write"]
    writer = _key(server, "vault:write")
    r = http.put("/v1/vault/user-2/phone", json={"value": 13800138000}, headers=writer)
    assert r.status_code == 422
    r = http.put("/v1/vault/user-2/note", json={"value": "x" * 5000}, headers=writer)
    assert r.status_code == 422
    assert "0013 8000" not in server.log.read_text()
