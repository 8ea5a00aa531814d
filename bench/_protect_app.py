"""The app ``bench_protect_http.py`` serves, twice: bare, and behind ``bastion.http.protect``.

``bare`` answers every path with a small JSON document; ``protected`` is the same app wrapped
by the whole stack (secure headers, request limits, gate with API key, scopes, rate limit and
inspection, body checks), opened from the settings in ``BASTION_CONFIG``/``BASTION_DATA_DIR``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bastion.config import load_settings
from bastion.http import protect


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "path": request.url.path})


bare = Starlette(routes=[Route("/{path:path}", _echo, methods=["GET", "POST"])])
protected = protect(bare, load_settings())
