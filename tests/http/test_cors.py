"""CORS by exact allow-list only (ASVS V3.4.2; never a reflected origin with credentials)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bastion import Bastion
from bastion.config import load_settings
from bastion.errors import ConfigError
from bastion.http import create_app
from bastion.infra import ManualClock
from tests.conftest import make_settings

ALLOWED = "https://app.example.com"


async def test_allow_list_only(tmp_path: Path, clock: ManualClock) -> None:
    settings = make_settings(
        tmp_path, server={"cors_origins": [ALLOWED], "cors_allow_credentials": True}
    )
    guard = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    try:
        transport = httpx.ASGITransport(app=create_app(guard=guard))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            pre = {
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            }
            ok = await http.options("/v1/auth/login", headers={"Origin": ALLOWED, **pre})
            assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ALLOWED
            evil = await http.options(
                "/v1/auth/login", headers={"Origin": "https://evil.example", **pre}
            )
            assert evil.headers.get("access-control-allow-origin") is None
            plain = await http.get("/healthz", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in plain.headers
    finally:
        await guard.close()


async def test_no_cors_headers_by_default(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert not [h for h in r.headers if h.startswith("access-control-")]


@pytest.mark.parametrize(
    "server",
    [
        {"cors_origins": ["*"], "cors_allow_credentials": True},
        {"cors_origins": ["https://app.example.com/path"]},
        {"cors_origins": ["*.example.com"]},
    ],
)
def test_unsafe_cors_settings_stop_start_up(server: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="cors_origins"):
        load_settings(server=server)
