"""``ClientIP``: the socket peer, unless it is a trusted proxy; then the right-most
``X-Forwarded-For`` hop that is not a trusted proxy. A client cannot choose its own address.

ASVS V15.3.4 (original IP from trusted fields only, used for rate limits and audit),
V4.1.3 (intermediary headers cannot be overridden by the end user).
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.http import create_app
from bastion.http._client import ClientIP
from bastion.infra import ManualClock
from tests.conftest import make_settings
from tests.http.conftest import PEER, assert_problem

PROXY_NET = "10.0.0.0/8"


def scope(peer: str | None, *xff: str, **other: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", v.encode("latin-1")) for v in xff]
    headers += [(k.replace("_", "-").encode(), v.encode()) for k, v in other.items()]
    return {"type": "http", "client": (peer, 4711) if peer else None, "headers": headers}


# -- unit ------------------------------------------------------------------------------------


def test_no_trusted_proxies_means_the_socket_peer() -> None:
    """ASVS V15.3.4: without configured proxies every forwarding header is ignored."""
    ip = ClientIP(())
    assert ip(scope("198.51.100.9", "1.2.3.4")) == "198.51.100.9"
    assert ip(scope("198.51.100.9", x_real_ip="1.2.3.4", forwarded="for=1.2.3.4")) == "198.51.100.9"


def test_untrusted_peer_cannot_forward() -> None:
    """ASVS V4.1.3: X-Forwarded-For from a peer that is not a configured proxy is ignored."""
    assert ClientIP([PROXY_NET])(scope("198.51.100.9", "1.2.3.4")) == "198.51.100.9"


@pytest.mark.parametrize(
    ("xff", "expected"),
    [
        (["198.51.100.9"], "198.51.100.9"),
        (["6.6.6.6, 198.51.100.9"], "198.51.100.9"),
        (["6.6.6.6, 198.51.100.9, 10.1.2.3"], "198.51.100.9"),
        (["6.6.6.6", "198.51.100.9, 10.1.2.3"], "198.51.100.9"),
        (["  198.51.100.9 ,, 10.1.2.3  "], "198.51.100.9"),
    ],
    ids=["one-hop", "spoofed-left", "two-proxies", "two-headers", "spaces-and-empties"],
)
def test_trusted_proxy_gives_rightmost_untrusted_hop(xff: list[str], expected: str) -> None:
    """ASVS V15.3.4: hops a client prepended (left of the proxy's own entry) are never used."""
    assert ClientIP([PROXY_NET])(scope("10.0.0.1", *xff)) == expected


def test_all_hops_trusted_means_the_peer() -> None:
    assert ClientIP([PROXY_NET])(scope("10.0.0.1", "10.9.9.9, 10.1.2.3")) == "10.0.0.1"


def test_trusted_proxy_without_forwarded_for_means_the_peer() -> None:
    ip = ClientIP([PROXY_NET])
    assert ip(scope("10.0.0.1")) == "10.0.0.1"
    assert ip(scope("10.0.0.1", x_real_ip="1.2.3.4")) == "10.0.0.1"


@pytest.mark.parametrize(
    "xff",
    [
        "garbage",
        "6.6.6.6, not-an-ip",
        "198.51.100.9:5555",
        "[2001:db8::1]:443",
        "unknown",
        "1.2.3.4.5",
        "198.51.100.9/32",
        "999.1.1.1",
        "garbage, 10.1.2.3",
    ],
)
def test_garbage_forwarded_for_means_the_peer(xff: str) -> None:
    """ASVS V15.3.4: an unparseable right-most hop fails closed to the proxy's address."""
    assert ClientIP([PROXY_NET])(scope("10.0.0.1", xff)) == "10.0.0.1"


def test_ipv6_peer_and_hops() -> None:
    """IPv6 proxies and clients; the result is normalised (compressed, lower case)."""
    ip = ClientIP(["2001:db8:a::/48", "::1"])
    assert ip(scope("2001:db8:a::1", "2001:DB9:0:0::ABCD")) == "2001:db9::abcd"
    assert ip(scope("::1", "2001:db9::5, 2001:db8:a::7")) == "2001:db9::5"
    assert ip(scope("2001:db8:b::1", "2001:db9::5")) == "2001:db8:b::1"
    assert ip(scope("::1", "::1, 2001:db8:a::2")) == "::1"


def test_single_addresses_and_networks_are_both_accepted() -> None:
    ip = ClientIP(["10.0.0.1", "192.168.0.0/16"])
    assert ip(scope("10.0.0.1", "198.51.100.9")) == "198.51.100.9"
    assert ip(scope("10.0.0.2", "198.51.100.9")) == "10.0.0.2"
    assert ip(scope("192.168.4.4", "198.51.100.9")) == "198.51.100.9"


def test_no_client_in_scope_is_none() -> None:
    assert ClientIP([PROXY_NET])(scope(None, "198.51.100.9")) is None
    assert ClientIP(())(scope(None)) is None


def test_invalid_trusted_proxy_setting_is_refused() -> None:
    with pytest.raises(ValueError):
        ClientIP(["not-a-network"])


@given(xff=st.lists(st.text(alphabet=st.characters(max_codepoint=255), max_size=40), max_size=3))
def test_property_result_is_peer_or_an_untrusted_ip(xff: list[str]) -> None:
    """Property (ASVS V15.3.4): any header yields the peer or a real, untrusted address;
    without trusted proxies, always the peer."""
    assert ClientIP(())(scope("198.51.100.9", *xff)) == "198.51.100.9"
    result = ClientIP([PROXY_NET])(scope("10.0.0.1", *xff))
    assert result is not None
    if result != "10.0.0.1":
        addr = ipaddress.ip_address(result)
        assert addr not in ipaddress.ip_network(PROXY_NET)
        assert str(addr) == result


# -- through the app: audit IP and the rate-limit bucket -------------------------------------


async def _client_for(guard: Any, tmp_path: Path, trusted: tuple[str, ...]) -> httpx.AsyncClient:
    settings = make_settings(tmp_path, server={"trusted_proxies": list(trusted)})
    app = create_app(settings, guard=guard)  # type: ignore[arg-type]
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=PEER), base_url="http://test"
    )


@pytest.mark.parametrize(
    ("trusted", "audited"),
    [((), "203.0.113.0/24"), (("203.0.113.0/24",), "198.51.100.0/24")],
    ids=["untrusted-peer", "trusted-proxy"],
)
async def test_audit_ip_follows_the_trust_setting(
    guard: Any, tmp_path: Path, trusted: tuple[str, ...], audited: str
) -> None:
    """ASVS V15.3.4: the audit log records the spoofed XFF only when the peer is a proxy."""
    async with await _client_for(guard, tmp_path, trusted) as client:
        r = await client.get("/v1/verify", headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.9"})
    assert_problem(r, 401, "invalid-token")
    [event] = await guard.audit.tail(10, action="verify.denied")
    assert event.ip == audited


@pytest.fixture
async def strict_guard(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Any]:
    """A Bastion whose per-IP login failure budget is 2 per window."""
    from bastion import Bastion

    settings = make_settings(tmp_path / "strict", login={"ip_failures_per_window": 2})
    instance = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    yield instance
    await instance.close()


async def test_spoofed_forwarded_for_does_not_escape_the_ip_bucket(
    strict_guard: Any, tmp_path: Path
) -> None:
    """ASVS V15.3.4 / V6.3.1: a sprayer rotating X-Forwarded-For stays in its peer's bucket."""
    async with await _client_for(strict_guard, tmp_path, ()) as client:
        statuses = []
        for n in range(3):
            r = await client.post(
                "/v1/auth/login",
                json={"username": f"victim{n}", "password": "a wrong guess for the spray"},
                headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
            )
            statuses.append(r.status_code)
    assert statuses == [401, 401, 429]
    [event] = await strict_guard.audit.tail(10, action="auth.login.throttled")
    assert event.ip == "203.0.113.0/24"
