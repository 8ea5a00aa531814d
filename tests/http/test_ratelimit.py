"""The rate limiter in the service: 429 with Retry-After and RateLimit headers, per client IP,
audited; policies from settings (ASVS V2.4.1, V6.3.1; API4:2023)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bastion import Bastion
from bastion.http import create_app
from bastion.infra import ManualClock
from tests.conftest import make_settings
from tests.http.conftest import PASSWORD, PROBLEM

LOGIN = "/v1/auth/login"


async def _client(guard: Any, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(guard=guard), client=(ip, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def limited(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Any]:
    policies = [
        {
            "name": "auth",
            "match": {"path": "/v1/auth/*", "methods": ["POST"]},
            "limits": ["3/s burst 3", "100/h"],
        }
    ]
    settings = make_settings(tmp_path, ratelimit={"enabled": True, "policies": policies})
    guard = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    yield guard
    await guard.close()


async def test_auth_routes_are_limited_per_ip(limited: Any, clock: ManualClock) -> None:
    body = {"username": "nobody", "password": PASSWORD}
    async with (
        await _client(limited, "203.0.113.7") as one,
        await _client(limited, "198.51.100.9") as two,
    ):
        for _ in range(3):
            r = await one.post(LOGIN, json=body)
            assert r.status_code == 401
            assert r.headers["ratelimit-policy"].startswith('"auth.')
            assert "ratelimit" in r.headers
        refused = await one.post(LOGIN, json=body)
        assert refused.status_code == 429 and refused.headers["content-type"] == PROBLEM
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["type"].endswith("/throttled")
        assert (
            await two.post(LOGIN, json=body)
        ).status_code == 401  # another client is not affected
        clock.advance(1)
        assert (await one.post(LOGIN, json=body)).status_code == 401  # the budget refills
    events = [e for e in await limited.audit.tail(50) if e.action == "ratelimit.denied"]
    assert len(events) == 1 and events[0].reason == "auth"


async def test_refused_before_the_route_runs(limited: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = limited.identity.login

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append("login")
        return await original(*args, **kwargs)

    monkeypatch.setattr(limited.identity, "login", counting)
    async with await _client(limited, "203.0.113.7") as http:
        statuses = [
            (await http.post(LOGIN, json={"username": "x", "password": PASSWORD})).status_code
            for _ in range(6)
        ]
    assert statuses == [401, 401, 401, 429, 429, 429]
    assert len(calls) == 3


async def test_other_routes_are_not_limited_by_default(limited: Any) -> None:
    async with await _client(limited, "203.0.113.7") as http:
        for _ in range(10):
            r = await http.get("/healthz")
            assert r.status_code == 200 and "ratelimit-policy" not in r.headers


def test_default_policy_guards_auth_routes() -> None:
    from bastion.config import load_settings

    settings = load_settings()
    (policy,) = settings.ratelimit.policies
    assert policy.match.path == "/v1/auth/*" and policy.key == "ip"
    assert policy.on_backend_error == "deny"  # fail closed where passwords are guessed


def test_bad_policy_is_refused_at_start_naming_the_key() -> None:
    from bastion.config import load_settings
    from bastion.errors import ConfigError

    with pytest.raises(ConfigError, match=r"ratelimit\.policies"):
        load_settings(ratelimit={"policies": [{"name": "x", "limits": ["lots"]}]})
