"""``guard.require(scopes=[...])`` as a FastAPI dependency (ASVS V8.2.1, V8.3.1; API5:2023)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Depends, FastAPI

from bastion._principal import Principal
from bastion.sessions import DeviceInfo, TokenPair

PASSWORD = "violet tractor hums at dawn"


def _app(guard: Any) -> FastAPI:
    app = FastAPI()
    # Defaults, not Annotated: this module's annotations are strings, and ``guard`` is local.
    need_orders, anyone = Depends(guard.require(scopes=["orders:read"])), Depends(guard.require())

    @app.get("/orders")
    async def orders(who: Principal = need_orders) -> dict[str, str]:
        return {"subject": who.subject}

    @app.get("/me")
    async def me(who: Principal = anyone) -> dict[str, Any]:
        return {"subject": who.subject, "scopes": list(who.scopes)}

    from bastion.errors import BastionError

    @app.exception_handler(BastionError)
    async def problem(request: Any, exc: BastionError) -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse(exc.problem(), status_code=exc.status, headers=exc.headers())

    return app


async def test_scopes_are_required(guard: Any) -> None:
    await guard.identity.register("alice", PASSWORD)
    pair = await guard.identity.login("alice", PASSWORD, DeviceInfo(ip="198.51.100.1"))
    assert isinstance(pair, TokenPair)
    key, _ = await guard.apikeys.create("acme", ["orders:read"], owner_service="acme")
    transport = httpx.ASGITransport(app=_app(guard))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        user = {"Authorization": f"Bearer {pair.access_token}"}
        assert (await http.get("/me", headers=user)).json()["scopes"] == ["user"]
        refused = await http.get("/orders", headers=user)
        assert refused.status_code == 403 and refused.json()["missing"] == ["orders:read"]
        ok = await http.get("/orders", headers={"X-API-Key": key})
        assert ok.status_code == 200 and ok.json() == {"subject": "service:acme"}
        assert (await http.get("/orders")).status_code == 401
        assert (
            await http.get("/orders", headers={"X-API-Key": key[:-2] + "zz"})
        ).status_code == 401
    actions = [e.action for e in await guard.audit.tail(20)]
    assert "authz.denied" in actions and "auth.token.rejected" in actions
