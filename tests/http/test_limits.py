"""Request limits and load shedding at the edge (ASVS V4.1.x / API4:2023 resource limits)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion import Bastion
from bastion.http import create_app
from bastion.http._limits import json_depth
from bastion.infra import ManualClock
from tests.conftest import make_settings
from tests.http.conftest import PASSWORD, PROBLEM, assert_problem


async def test_too_many_header_fields_is_431(client: httpx.AsyncClient) -> None:
    headers = {f"x-h{i}": "v" for i in range(120)}
    r = await client.get("/healthz", headers=headers)
    assert_problem(r, 431)


async def test_oversized_header_is_431(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/healthz", headers={"x-big": "a" * 20_000}), 431)


async def test_long_query_is_414_and_many_params_400(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/healthz?q=" + "a" * 5000), 414)
    many = "&".join(f"p{i}=1" for i in range(70))
    assert_problem(await client.get("/v1/sessions?" + many), 400)


async def test_deep_json_is_400_before_parsing(client: httpx.AsyncClient, guard: Any) -> None:
    body = '{"username": ' + "[" * 40 + "]" * 40 + ', "password": "x"}'
    r = await client.post(
        "/v1/auth/register", content=body, headers={"content-type": "application/json"}
    )
    assert_problem(r, 400)
    assert await guard.admin.list() == []


async def test_overload_is_shed_with_503(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request beyond ``max_concurrency`` is refused at once with Retry-After; health checks
    are never shed."""
    settings = make_settings(tmp_path, server={"max_concurrency": 1})
    guard = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    gate = asyncio.Event()

    async def slow_login(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        raise RuntimeError("unreached")

    monkeypatch.setattr(guard.identity, "login", slow_login)
    transport = httpx.ASGITransport(app=create_app(guard=guard), client=("203.0.113.7", 1))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            first = asyncio.create_task(
                http.post("/v1/auth/login", json={"username": "a", "password": PASSWORD})
            )
            for _ in range(100):
                await asyncio.sleep(0)  # let the first request reach the slow handler
            second = await http.post("/v1/auth/login", json={"username": "a", "password": PASSWORD})
            assert second.status_code == 503 and second.headers["content-type"] == PROBLEM
            assert second.headers["retry-after"] == "1"
            assert (await http.get("/healthz")).status_code == 200
            gate.set()
            first.cancel()
    finally:
        await guard.close()


@given(
    st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
        max_leaves=20,
    )
)
def test_json_depth_matches_the_structure(value: object) -> None:
    """Property: the bracket scan agrees with the real nesting depth, strings included."""

    def depth(v: object) -> int:
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    text = json.dumps(value).encode()
    assert json_depth(text, 100) == depth(value)


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{\\"]]]"}', 10) == 1
    assert json_depth(b"[" * 50, 10) == 11


async def test_refusals_are_audited_once_per_reason_and_network(
    client: httpx.AsyncClient, guard: Any
) -> None:
    """The service's own request limits leave a sampled ``request.refused`` event."""
    for _ in range(3):
        assert_problem(await client.get("/healthz", headers={"x-big": "a" * 20_000}), 431)
    [event] = await guard.audit.tail(5, action="request.refused")
    assert (event.outcome, event.reason) == ("denied", "headers")


@pytest.mark.parametrize(
    ("content", "content_type", "status", "reason"),
    [
        (b"{" + b" " * 70_000 + b"}", "application/json", 413, "body_size"),
        (b'{"username": "\xff"}', "application/json", 422, "body_utf8"),
        (b"[" * 40 + b"]" * 40, "application/json", 400, "body_depth"),
        (b"username=a", "application/x-www-form-urlencoded", 415, "body_media_type"),
    ],
)
async def test_refused_api_bodies_are_audited(
    client: httpx.AsyncClient,
    guard: Any,
    content: bytes,
    content_type: str,
    status: int,
    reason: str,
) -> None:
    """The service's body guard leaves a sampled ``request.refused`` event with the reason and
    never the body."""
    r = await client.post("/v1/auth/login", content=content, headers={"content-type": content_type})
    assert_problem(r, status)
    [event] = await guard.audit.tail(5, action="request.refused")
    assert (event.outcome, event.reason) == ("denied", reason)
    assert "username" not in repr(event)
