"""``/v1/verify`` applies the ``[[routes]]`` policy of the request a gateway forwards: auth,
scopes, rate limits and inspection of the query string (ASVS V4.1.1, V8.2.1, V8.3.1, V2.4.1)."""

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
from tests.http.conftest import PROBLEM, signed_in

ROUTES = [
    {"path": "/public/*", "auth": "none"},
    {"path": "/maybe/*", "auth": "optional"},
    {"path": "/orders/*", "methods": ["GET"], "scopes": ["orders:read"]},
    {"path": "/orders/*", "methods": ["POST"], "scopes": ["orders:write"]},
    {"path": "/watch/*", "auth": "none", "inspect": "monitor"},
    {"path": "/raw/*", "auth": "none", "inspect": "off"},
    {"path": "/notes/*", "auth": "none", "rich_text": ["body"]},
]
POLICIES = [{"name": "api", "match": {"path": "/orders/*"}, "key": "user", "limits": ["2/s"]}]


@pytest.fixture
async def routed(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Any]:
    settings = make_settings(
        tmp_path, routes=ROUTES, ratelimit={"enabled": True, "policies": POLICIES}
    )
    guard = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    yield guard
    await guard.close()


@pytest.fixture
async def client(routed: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(guard=routed), client=("203.0.113.9", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def nginx(uri: str, method: str = "GET", **extra: str) -> dict[str, str]:
    return {"X-Original-URI": uri, "X-Original-Method": method, **extra}


def traefik(uri: str, method: str = "GET", **extra: str) -> dict[str, str]:
    return {"X-Forwarded-Uri": uri, "X-Forwarded-Method": method, **extra}


@pytest.mark.parametrize("style", [nginx, traefik])
async def test_public_route_needs_no_credential(client: httpx.AsyncClient, style: Any) -> None:
    r = await client.get("/v1/verify", headers=style("/public/page?x=1"))
    assert r.status_code == 200
    assert "x-bastion-subject" not in r.headers
    private = await client.get("/v1/verify", headers=style("/account"))
    assert private.status_code == 401  # no entry matches: a credential is required
    assert private.headers["content-type"] == PROBLEM


async def test_a_call_that_names_no_original_request_requires_a_credential(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/v1/verify")).status_code == 401


async def test_optional_auth_checks_a_credential_only_when_sent(
    client: httpx.AsyncClient, routed: Any
) -> None:
    assert (await client.get("/v1/verify", headers=nginx("/maybe/x"))).status_code == 200
    bad = nginx("/maybe/x", Authorization="Bearer forged")
    assert (await client.get("/v1/verify", headers=bad)).status_code == 401
    pair = await signed_in(routed)
    good = nginx("/maybe/x", Authorization=f"Bearer {pair.access_token}")
    r = await client.get("/v1/verify", headers=good)
    assert r.status_code == 200 and r.headers["x-bastion-session"] == pair.session_id


async def test_scopes_per_route_and_method_name_the_missing_scope(
    client: httpx.AsyncClient, routed: Any
) -> None:
    key, _ = await routed.apikeys.create("reader", ["orders:read"], owner_service="shop")
    reading = await client.get(
        "/v1/verify", headers=nginx("/orders/7", "GET", **{"X-API-Key": key})
    )
    assert reading.status_code == 200 and reading.headers["x-bastion-scopes"] == "orders:read"
    writing = await client.get(
        "/v1/verify", headers=nginx("/orders/7", "POST", **{"X-API-Key": key})
    )
    assert writing.status_code == 403
    assert writing.json()["type"].endswith("/missing-scope")
    assert writing.json()["missing"] == ["orders:write"]
    (event,) = await routed.audit.tail(1, action="authz.denied")
    assert event.reason == "missing_scope"


async def test_rate_limit_keyed_by_user_applies_to_the_forwarded_route(
    client: httpx.AsyncClient, routed: Any, clock: ManualClock
) -> None:
    alice, bob = await signed_in(routed, "alice"), await signed_in(routed, "bob")
    as_alice = {"Authorization": f"Bearer {alice.access_token}"}
    as_bob = {"Authorization": f"Bearer {bob.access_token}"}
    # Tokens carry no orders scope: the limit is spent before the scope check refuses.
    for _ in range(2):
        r = await client.get("/v1/verify", headers=nginx("/orders/1", **as_alice))
        assert r.status_code == 403 and r.headers["ratelimit-policy"] == '"api";q=2;w=1'
    limited = await client.get("/v1/verify", headers=nginx("/orders/1", **as_alice))
    assert limited.status_code == 429 and limited.headers["content-type"] == PROBLEM
    assert int(limited.headers["retry-after"]) >= 1 and "ratelimit" in limited.headers
    other = await client.get("/v1/verify", headers=nginx("/orders/1", **as_bob))
    assert other.status_code == 403  # bob has his own bucket, though both share one IP
    clock.advance(1)
    again = await client.get("/v1/verify", headers=nginx("/orders/1", **as_alice))
    assert again.status_code == 403


async def test_an_api_keys_own_rate_is_enforced(
    client: httpx.AsyncClient, routed: Any, clock: ManualClock
) -> None:
    key, info = await routed.apikeys.create(
        "partner", ["orders:read"], owner_service="partner", rate="2/min"
    )
    headers = nginx("/maybe/feed", **{"X-API-Key": key})
    statuses = [(await client.get("/v1/verify", headers=headers)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    (event,) = await routed.audit.tail(1, action="ratelimit.denied")
    assert event.reason == "apikey"
    clock.advance(30)
    assert (await client.get("/v1/verify", headers=headers)).status_code == 200
    assert info.rate == "2/min"


@pytest.mark.parametrize(
    "query",
    [
        "id=1%27%20OR%20%271%27=%271",
        "q=%3Cscript%3Ealert(1)%3C/script%3E",
        "file=../../../../etc/passwd",
        "password[$ne]=1",
    ],
)
async def test_attacks_in_the_forwarded_query_are_blocked(
    client: httpx.AsyncClient, routed: Any, query: str
) -> None:
    r = await client.get("/v1/verify", headers=nginx(f"/public/search?{query}"))
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    assert r.json()["type"].endswith("/request-blocked")
    (event,) = await routed.audit.tail(1, action="inspect.blocked")
    assert event.outcome == "denied"
    # monitor mode lets the same request through and records it; off does neither
    watched = await client.get("/v1/verify", headers=nginx(f"/watch/search?{query}"))
    assert watched.status_code == 200
    (flagged,) = await routed.audit.tail(1, action="inspect.flagged")
    assert flagged.outcome == "success"
    raw = await client.get("/v1/verify", headers=nginx(f"/raw/search?{query}"))
    assert raw.status_code == 200


async def test_cookies_and_user_agent_are_inspected(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/v1/verify", headers=nginx("/public/x", Cookie="theme=dark; q=' UNION SELECT pw FROM u--")
    )
    assert r.status_code == 403
    shellshock = nginx("/public/x", **{"User-Agent": "() { :; }; /bin/cat /etc/passwd"})
    assert (await client.get("/v1/verify", headers=shellshock)).status_code == 403


@pytest.mark.parametrize(
    "query", ["name=O%27Brien", "city=L%27Aquila", "q=select+a+drop+date", "email=a%40b.example"]
)
async def test_real_users_are_not_punished(client: httpx.AsyncClient, query: str) -> None:
    r = await client.get("/v1/verify", headers=nginx(f"/public/search?{query}"))
    assert r.status_code == 200


async def test_rich_text_fields_are_checked_for_script_only(client: httpx.AsyncClient) -> None:
    prose = "q=SELECT+name+FROM+users+WHERE+id+%3D+1"
    assert (await client.get("/v1/verify", headers=nginx(f"/public/x?{prose}"))).status_code == 403
    code = "body=SELECT+name+FROM+users+WHERE+id+%3D+1"
    assert (await client.get("/v1/verify", headers=nginx(f"/notes/x?{code}"))).status_code == 200
    script = "body=%3Cscript%3Ealert(1)%3C/script%3E"
    assert (await client.get("/v1/verify", headers=nginx(f"/notes/x?{script}"))).status_code == 403


@pytest.mark.parametrize("uri", ["/public/../orders/1", "/public/%2e%2e/orders/1", "//orders/1"])
async def test_path_tricks_cannot_reach_a_looser_route(client: httpx.AsyncClient, uri: str) -> None:
    r = await client.get("/v1/verify", headers=nginx(uri))
    assert r.status_code == 401  # resolved to /orders/1, which needs a credential


async def test_envoy_prefix_uses_the_route_policy(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/verify/public/a")).status_code == 200
    assert (await client.delete("/v1/verify/orders/1")).status_code == 401
    blocked = await client.get("/v1/verify/public/a?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert blocked.status_code == 403


@pytest.mark.parametrize("attack_first", [True, False])
async def test_a_repeated_cookie_field_is_inspected_whole(
    client: httpx.AsyncClient, attack_first: bool
) -> None:
    """HTTP/2 splits cookies into several fields: an attack in any of them is seen."""
    attack, benign = ("cookie", "q=' UNION SELECT pw FROM u--"), ("cookie", "theme=dark")
    fields = [attack, benign] if attack_first else [benign, attack]
    headers = [("x-original-uri", "/public/x"), *fields]
    r = await client.get("/v1/verify", headers=headers)
    assert r.status_code == 403


@pytest.mark.parametrize(
    "forged",
    [
        # nginx sets X-Original-*, the client adds X-Forwarded-* for a public route
        {**nginx("/orders/1"), "X-Forwarded-Uri": "/public/x"},
        {**nginx("/orders/1", "POST"), "X-Forwarded-Method": "GET"},
        # Traefik sets X-Forwarded-*, the client adds X-Original-*
        {**traefik("/orders/1"), "X-Original-URI": "/public/x"},
    ],
)
async def test_two_different_original_requests_are_refused_and_audited(
    client: httpx.AsyncClient, routed: Any, forged: dict[str, str]
) -> None:
    """A forged family of forwarding headers cannot borrow another route's policy: neither is
    trusted (ASVS V4.1.1, V2.4.1)."""
    r = await client.get("/v1/verify", headers=forged)
    assert r.status_code == 400
    assert r.headers["content-type"] == PROBLEM
    assert r.headers["x-bastion-problem"] == "bad-request"
    events = await routed.audit.tail(10, action="verify.denied")
    assert [e.reason for e in events] == ["ambiguous"]


async def test_both_families_naming_the_same_request_are_accepted(
    client: httpx.AsyncClient,
) -> None:
    both = {**nginx("/public/x", "get"), **traefik("/public/x", "GET")}
    r = await client.get("/v1/verify", headers=both)
    assert r.status_code == 200
