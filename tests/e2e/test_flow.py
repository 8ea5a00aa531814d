"""The issue's walk-through against a started ``bastion serve`` over real HTTP, on SQLite with
in-memory hot state and again on PostgreSQL + Redis."""

from __future__ import annotations

import stat
import time
import uuid

import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e
PASSWORD = "violet tractor hums at dawn"


def _register_and_login(
    http: httpx.Client, device: str = "device-0001"
) -> tuple[str, dict[str, object]]:
    name = f"u{uuid.uuid4().hex[:10]}"
    r = http.post("/v1/auth/register", json={"username": name, "password": PASSWORD})
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"user_id", "password_strength"}
    r = http.post(
        "/v1/auth/login", json={"username": name, "password": PASSWORD, "device_id": device}
    )
    assert r.status_code == 200, r.text
    return name, r.json()


def _bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_register_login_verify_refresh_sessions_logout(http: httpx.Client) -> None:
    """ASVS V7.4.1 (logout invalidates at once), V7.2.4 (new session at login), V9.2.1."""
    name, tokens = _register_and_login(http)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    access = tokens["access_token"]
    r = http.get("/v1/verify", headers=_bearer(access))
    assert r.status_code == 200
    assert r.headers["X-Bastion-Session"] == tokens["session_id"]
    assert r.headers["X-Bastion-Scopes"] == "user"
    subject = r.headers["X-Bastion-Subject"]
    assert http.post("/v1/verify", headers=_bearer(access)).status_code == 200

    r = http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["session_id"] == tokens["session_id"]
    assert (
        http.get("/v1/verify", headers=_bearer(rotated["access_token"])).headers[
            "X-Bastion-Subject"
        ]
        == subject
    )

    # a second session for the same user, then list and revoke it
    second = http.post("/v1/auth/login", json={"username": name, "password": PASSWORD}).json()
    listed = http.get("/v1/sessions", headers=_bearer(rotated["access_token"])).json()["sessions"]
    assert {s["id"] for s in listed} == {tokens["session_id"], second["session_id"]}
    assert [s["current"] for s in listed if s["id"] == tokens["session_id"]] == [True]
    r = http.delete(
        f"/v1/sessions/{second['session_id']}", headers=_bearer(rotated["access_token"])
    )
    assert r.status_code == 204
    assert http.get("/v1/verify", headers=_bearer(second["access_token"])).status_code == 401

    r = http.post("/v1/auth/logout", headers=_bearer(rotated["access_token"]))
    assert r.status_code == 204
    r = http.get("/v1/verify", headers=_bearer(rotated["access_token"]))
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_refresh_reuse_revokes_session(http: httpx.Client) -> None:
    """ASVS V10.4.5 by analogy: a replayed refresh token ends the whole session."""
    _, tokens = _register_and_login(http)
    first = http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    # rotate twice so the original is two generations old: outside any grace window
    second = http.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    r = http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401
    assert http.get("/v1/verify", headers=_bearer(second["access_token"])).status_code == 401
    assert (
        http.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code
        == 401
    )


def test_sign_out_everywhere_else(http: httpx.Client) -> None:
    name, one = _register_and_login(http)
    two = http.post("/v1/auth/login", json={"username": name, "password": PASSWORD}).json()
    r = http.delete("/v1/sessions", headers=_bearer(one["access_token"]))
    assert r.status_code == 200 and r.json() == {"revoked": 1}
    assert http.get("/v1/verify", headers=_bearer(two["access_token"])).status_code == 401
    assert http.get("/v1/verify", headers=_bearer(one["access_token"])).status_code == 200


def test_cannot_revoke_someone_elses_session(http: httpx.Client) -> None:
    """ASVS V8.2.2 / API1:2023: another user's session id is 404 and stays alive."""
    _, alice = _register_and_login(http)
    _, bob = _register_and_login(http)
    r = http.delete(f"/v1/sessions/{bob['session_id']}", headers=_bearer(alice["access_token"]))
    assert r.status_code == 404
    assert http.get("/v1/verify", headers=_bearer(bob["access_token"])).status_code == 200


def test_ops_endpoints(http: httpx.Client, server: Server) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json()["status"] == "ready"
    assert "bastion_http_requests_total" in http.get("/metrics").text
    spec = http.get("/openapi.json").json()
    assert "/v1/auth/login" in spec["paths"]
    keys = http.get("/.well-known/jwks.json").json()["keys"]
    assert keys and all("d" not in k for k in keys)
    r = http.get("/healthz")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "server" not in r.headers
    assert r.headers["x-request-id"]


def test_key_file_is_private(server: Server) -> None:
    """ASVS V13.3.1: the generated master key is readable by its owner only."""
    if "BASTION_DATABASE__URL" in server.env:
        pytest.skip("key file checked once, on the embedded backend")
    mode = stat.S_IMODE((server.data_dir / "master.key").stat().st_mode)
    assert mode == 0o600


def test_cli_against_running_server(http: httpx.Client, server: Server) -> None:
    """Operators lock a user from the CLI (another process); the running server refuses the
    user's token within seconds (Redis pub/sub, or the database poll on the embedded default)."""
    name, tokens = _register_and_login(http)
    result = server.cli("users", "lock", name)
    assert result.returncode == 0, result.stderr
    login = http.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert login.status_code == 401
    deadline = time.monotonic() + 5
    while http.get("/v1/verify", headers=_bearer(tokens["access_token"])).status_code == 200:
        assert time.monotonic() < deadline, "the lock did not reach the running server"
        time.sleep(0.05)  # polling for propagation, not waiting for an expiry
    verify = server.cli("audit", "verify")
    assert verify.returncode == 0, verify.stderr
    assert "intact" in verify.stdout


def test_api_key_issued_by_cli_works_at_verify_and_revokes(
    http: httpx.Client, server: Server
) -> None:
    """An operator issues a service key from the CLI (another process); the running server
    accepts it at /v1/verify and refuses it within seconds of `bastion apikeys revoke`."""
    result = server.cli(
        "apikeys", "create", "--name", "acme", "--scopes", "orders:read", "--service", "acme"
    )
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    r = http.get("/v1/verify", headers={"X-API-Key": key})
    assert r.status_code == 200 and r.headers["X-Bastion-Subject"] == "service:acme"
    assert server.cli("apikeys", "revoke", key.split("_")[2]).returncode == 0
    deadline = time.monotonic() + 5
    while http.get("/v1/verify", headers={"X-API-Key": key}).status_code == 200:
        assert time.monotonic() < deadline, "the revocation did not reach the running server"
        time.sleep(0.05)  # polling for propagation, not waiting for an expiry
