"""Replay, skew and tamper tests for request signatures against a started ``bastion serve``
(SQLite with in-memory hot state, and PostgreSQL + Redis), through ``/v1/verify`` as nginx
``auth_request`` calls it for a route with ``require_signature = true``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bastion.errors import InvalidSignature
from bastion.signing import decode_secret, sign_request, verify_content_digest
from tests.e2e.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.e2e
PASSWORD = "violet tractor hums at dawn"
CONFIG = """
[[routes]]
path = "/api/signed/*"
require_signature = true

[[routes]]
path = "/api/*"
"""


@pytest.fixture(scope="module", params=["sqlite-memory", "postgres-redis"])
def signing_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("e2e-signing")
    config = tmp / "bastion.toml"
    config.write_text(CONFIG)
    running = start_server(tmp, request.param, {"BASTION_CONFIG": str(config)})
    yield running
    stop_server(running)


@pytest.fixture
def http(signing_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=signing_server.url, timeout=30) as client:
        yield client


def _login(http: httpx.Client) -> dict[str, Any]:
    name = f"s{uuid.uuid4().hex[:10]}"
    assert (
        http.post("/v1/auth/register", json={"username": name, "password": PASSWORD}).status_code
        == 201
    )
    r = http.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _sign(
    key_id: str, secret: str, uri: str, *, body: bytes = b'{"qty":1}', created: float | None = None
) -> dict[str, str]:
    path, _, query = uri.partition("?")
    headers = {"Content-Type": "application/json"}
    return {
        **headers,
        **sign_request(
            key_id=key_id,
            secret=decode_secret(secret),
            method="POST",
            path=path,
            query=query,
            headers=headers,
            body=body,
            created=int(time.time() if created is None else created),
        ),
    }


def _verify(
    http: httpx.Client, login: dict[str, Any], uri: str, signed: dict[str, str]
) -> httpx.Response:
    headers = {
        "Authorization": f"Bearer {login['access_token']}",
        "X-Original-URI": uri,
        "X-Original-Method": "POST",
        **signed,
    }
    return http.get("/v1/verify", headers=headers)


def _refused(r: httpx.Response, reason: str) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["reason"] == reason and r.json()["type"].endswith("/invalid-signature")


def test_signed_request_is_accepted_once(http: httpx.Client) -> None:
    """ASVS V2.3.4 (a nonce is used once), V16.3.3 (a replay is refused and audited)."""
    login = _login(http)
    uri = "/api/signed/orders?b=2&a=1"
    signed = _sign(login["signing_key_id"], login["signing_key"], uri)
    r = _verify(http, login, uri, signed)
    assert r.status_code == 200, r.text
    assert r.headers["X-Bastion-Signature-Key"] == login["signing_key_id"]
    _refused(_verify(http, login, uri, signed), "replayed")
    unsigned = _verify(http, login, uri, {})
    _refused(unsigned, "missing")
    assert _verify(http, login, "/api/plain", {}).status_code == 200


@pytest.mark.parametrize("offset", [-1000, 1000])
def test_skewed_time_is_refused(http: httpx.Client, offset: int) -> None:
    login = _login(http)
    uri = "/api/signed/orders"
    signed = _sign(login["signing_key_id"], login["signing_key"], uri, created=time.time() + offset)
    _refused(_verify(http, login, uri, signed), "stale")


@pytest.mark.parametrize(
    "sent_uri", ["/api/signed/orders/2?b=2&a=1", "/api/signed/orders?b=3&a=1", "/api/signed/orders"]
)
def test_changed_path_or_query_is_refused_without_the_expected_value(
    http: httpx.Client, sent_uri: str
) -> None:
    login = _login(http)
    signed = _sign(login["signing_key_id"], login["signing_key"], "/api/signed/orders?b=2&a=1")
    r = _verify(http, login, sent_uri, signed)
    _refused(r, "bad_signature")
    would_be = _sign(login["signing_key_id"], login["signing_key"], sent_uri)["Signature"]
    assert would_be.split(":")[1] not in r.text and login["signing_key"] not in r.text


def test_changed_body(http: httpx.Client) -> None:
    """The gateway never sees the body: a changed Content-Digest fails the signature there,
    and an unchanged digest over a changed body is caught upstream by verify_content_digest."""
    login = _login(http)
    uri = "/api/signed/orders"
    signed = _sign(login["signing_key_id"], login["signing_key"], uri, body=b'{"qty":1}')
    forged = {
        **signed,
        "Content-Digest": _sign("s:x", login["signing_key"], uri, body=b'{"qty":9}')[
            "Content-Digest"
        ],
    }
    _refused(_verify(http, login, uri, forged), "bad_signature")
    assert _verify(http, login, uri, signed).status_code == 200
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_content_digest({"content-digest": signed["Content-Digest"]}, b'{"qty":9}')


def test_unknown_and_revoked_key_ids_are_refused(http: httpx.Client) -> None:
    login = _login(http)
    uri = "/api/signed/orders"
    _refused(
        _verify(http, login, uri, _sign("x:" + login["session_id"], login["signing_key"], uri)),
        "unknown_key",
    )
    auth = {"Authorization": f"Bearer {login['access_token']}"}
    created = http.post("/v1/apikeys", json={"name": "k", "scopes": ["user"]}, headers=auth).json()
    assert http.delete(f"/v1/apikeys/{created['id']}", headers=auth).status_code == 204
    signed = _sign(created["signing_key_id"], created["signing_key"], uri)
    _refused(_verify(http, login, uri, signed), "unknown_key")
