"""The operations endpoints' exposure: the metrics scrape token and the API description."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from bastion import Bastion
from bastion.http import create_app
from bastion.infra import ManualClock
from bastion.monitor import MetricsAccess
from tests.conftest import make_settings
from tests.http.conftest import PEER, assert_problem

TOKEN = "scrape-" + "k" * 30


@pytest.fixture
async def ops(tmp_path: Path, clock: ManualClock) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    settings = make_settings(tmp_path, server={"metrics_token": TOKEN, "openapi": False})
    guard = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=create_app(guard=guard), client=PEER)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield guard, http
    await guard.close()


async def test_metrics_are_public_by_default(client: httpx.AsyncClient) -> None:
    r = await client.get("/metrics")
    assert r.status_code == 200 and "# TYPE " in r.text


async def test_openapi_is_published_by_default(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "Bastion"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer " + TOKEN[:-1]},
        {"Authorization": "Bearer " + TOKEN + "x"},
        {"Authorization": "Basic " + TOKEN},
        {"Authorization": TOKEN},
    ],
)
async def test_metrics_with_a_token_refuse_everyone_else(
    ops: tuple[Any, httpx.AsyncClient], headers: dict[str, str]
) -> None:
    """ASVS V13.4.5 (no unauthenticated monitoring endpoints once a token is configured)."""
    guard, http = ops
    r = await http.get("/metrics", headers=headers)
    assert_problem(r, 401, "invalid-token")
    assert "# TYPE" not in r.text and TOKEN not in r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    [event] = await guard.audit.tail(5, action="metrics.denied")
    assert event.reason in {"missing", "mismatch"}
    assert TOKEN not in repr(event)


async def test_metrics_with_a_token_answer_its_bearer(ops: tuple[Any, httpx.AsyncClient]) -> None:
    guard, http = ops
    r = await http.get("/metrics", headers={"Authorization": "Bearer " + TOKEN})
    assert r.status_code == 200 and "# TYPE " in r.text
    assert await guard.audit.tail(5, action="metrics.denied") == []


async def test_openapi_can_be_withheld(ops: tuple[Any, httpx.AsyncClient]) -> None:
    _, http = ops
    assert (await http.get("/openapi.json")).status_code == 404


def test_a_short_metrics_token_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="metrics_token"):
        make_settings(tmp_path, server={"metrics_token": "short"})
    with pytest.raises(ValueError, match="24"):
        MetricsAccess("short")


def test_metrics_access_compares_whole_tokens() -> None:
    access = MetricsAccess(TOKEN)
    assert not access.public and MetricsAccess(None).public
    assert access.check(TOKEN) is None
    assert access.check(None) == "missing"
    assert access.check(TOKEN.upper()) == "mismatch"
    assert access.check("") == "mismatch"
    assert MetricsAccess(None).check(None) is None
