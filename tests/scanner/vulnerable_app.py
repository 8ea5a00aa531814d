"""A deliberately vulnerable ASGI app for the scanner's tests: one planted flaw per check,
named by the check id it should trigger, switched on by passing the names in ``flaws``.
With no flaw switched on it must pass every check.

    app = VulnerableApp({"headers.csp", "token.alg-none"}).app
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from tests.scanner.vulnerable_tokens import Tokens

ORDER_SECRET = b"orders-signing-secret-for-tests"
BREACHED = {"password123", "passwordpassword", "qwertyuiop123456"}
EXPOSED = {
    "exposure.directory-listing": ("/static/", "<html><title>Index of /static/</title></html>"),
    "exposure.git": ("/.git/HEAD", "ref: refs/heads/main\n"),
    "exposure.env": ("/.env", "DB_PASSWORD=hunter2\nSECRET_KEY=abc123\n"),
    "exposure.backup": ("/backup.zip", "PK\x03\x04\x14\x00fake zip"),
    "exposure.metrics": ("/metrics", "# HELP up Up\n# TYPE up gauge\nup 1\n"),
    "exposure.openapi": ("/openapi.json", json.dumps({"openapi": "3.1.0", "paths": {}})),
}


class Bucket:
    """Token bucket: ``burst`` requests, refilled at ``rate`` per second."""

    def __init__(self, burst: float, rate: float) -> None:
        self.burst, self.rate, self.level, self.at = burst, rate, burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.level = min(self.burst, self.level + (now - self.at) * self.rate)
        self.at = now
        if self.level >= 1:
            self.level -= 1
            return True
        return False


def _throttled() -> Response:
    return JSONResponse({"error": "slow down"}, status_code=429, headers={"retry-after": "1"})


class VulnerableApp:
    def __init__(self, flaws: set[str] | frozenset[str] = frozenset()) -> None:
        self.flaws = set(flaws)
        self.tokens = Tokens(self.flaws)
        self.users: dict[str, str] = {}
        self.failures: dict[str, int] = {}
        self.sessions: dict[str, str] = {}  # sid -> user (authenticated sessions)
        self.revoked: set[str] = set()
        self.refresh: dict[str, tuple[str, int]] = {}  # refresh token -> (sid, generation)
        self.generation: dict[str, int] = {}
        self.nonces: set[str] = set()
        self.buckets = {"login": Bucket(30, 15), "search": Bucket(30, 15)}
        self.hsts = "max-age=63072000; includeSubDomains"  # sent over https only
        routes = [
            Route("/", self.root, methods=["GET", "TRACE"] if "http.trace" in flaws else ["GET"]),
            Route("/v1/auth/register", self.register, methods=["POST"]),
            Route("/v1/auth/login", self.login, methods=["POST", "OPTIONS"]),
            Route("/v1/auth/refresh", self.refresh_route, methods=["POST"]),
            Route("/v1/auth/logout", self.logout, methods=["POST"]),
            Route("/.well-known/jwks.json", lambda r: JSONResponse(self.tokens.jwks())),
            Route("/v1/verify", self.verify),
            Route("/search", self.search),
            Route("/go", self.go),
            Route("/v1/orders", self.orders, methods=["POST"]),
            *[Route(path, self._exposed(flaw)) for flaw, (path, _) in EXPOSED.items()],
        ]
        inner = Starlette(routes=routes)
        self.inner = inner

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        origin = dict(scope["headers"]).get(b"origin", b"").decode()

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                extra = self._headers(origin, https=scope.get("scheme") == "https")
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.inner(scope, receive, with_headers)

    def _headers(self, origin: str, *, https: bool) -> list[tuple[bytes, bytes]]:
        f = self.flaws
        out: dict[str, str] = {}
        if https and "transport.hsts" not in f:
            out["strict-transport-security"] = self.hsts
        frame = "" if "headers.frame" in f else "; frame-ancestors 'none'"
        if "headers.csp" not in f:
            out["content-security-policy"] = "default-src 'none'" + frame
        if "headers.frame" not in f:
            out["x-frame-options"] = "DENY"
        if "headers.nosniff" not in f:
            out["x-content-type-options"] = "nosniff"
        if "headers.referrer-policy" not in f:
            out["referrer-policy"] = "no-referrer"
        if "headers.server-banner" in f:
            out["x-powered-by"] = "Express 4.17.1"
        if origin and "cors.reflected-origin" in f:
            out |= {"access-control-allow-origin": origin,
                    "access-control-allow-credentials": "true"}  # fmt: skip
        elif origin and "cors.wildcard-credentials" in f:
            out |= {"access-control-allow-origin": "*", "access-control-allow-credentials": "true"}
        return [(k.encode(), v.encode()) for k, v in out.items()]

    def _exposed(self, flaw: str) -> Any:
        async def endpoint(request: Request) -> Response:
            if flaw not in self.flaws:
                return JSONResponse({"error": "not found"}, status_code=404)
            return PlainTextResponse(EXPOSED[flaw][1])

        return endpoint

    def _cookie(self, value: str) -> str:
        f = self.flaws
        name = "sid" if "cookie.host-prefix" in f else "__Host-sid"
        attrs = ["Path=/"]
        attrs += [] if "cookie.secure" in f else ["Secure"]
        attrs += [] if "cookie.httponly" in f else ["HttpOnly"]
        attrs += [] if "cookie.samesite" in f else ["SameSite=Lax"]
        return f"{name}={value}; " + "; ".join(attrs)

    async def root(self, request: Request) -> Response:
        if request.method == "TRACE":
            return PlainTextResponse(str(dict(request.headers)))
        response = HTMLResponse("<html><body>shop</body></html>")
        response.headers.append("set-cookie", self._cookie(secrets.token_hex(16)))
        return response

    async def _json(self, request: Request) -> tuple[Any, Response | None]:
        raw = await request.body()
        f = self.flaws
        if "xml" in request.headers.get("content-type", ""):
            if "errors.internal-path" in f:
                return None, JSONResponse({"error": "no parser in /srv/app/handlers/login.py"}, 400)
            return None, JSONResponse({"error": "send JSON"}, 415)
        try:
            body = json.loads(raw)
        except ValueError:
            if "errors.stack-trace" in f:
                trace = 'Traceback (most recent call last):\n  File "app.py", line 42, in login'
                return None, PlainTextResponse(trace + "\nValueError: bad JSON", 500)
            return None, JSONResponse({"error": "bad JSON"}, 400)
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            if "errors.debug-page" in f:
                return None, HTMLResponse("<title>Werkzeug Debugger</title>TypeError", 500)
            return None, JSONResponse({"error": "invalid fields"}, 422)
        return body, None

    async def register(self, request: Request) -> Response:
        body, error = await self._json(request)
        if error:
            return error
        password = body.get("password", "")
        weak = len(password) < 12 or password in BREACHED
        if weak and "auth.weak-password" not in self.flaws:
            return JSONResponse({"error": "weak password"}, 422)
        self.users.setdefault(body.get("username", ""), password)
        return JSONResponse({"ok": True}, 201)

    def _start_session(self, user: str) -> tuple[str, dict[str, Any]]:
        sid = secrets.token_hex(16)
        self.sessions[sid] = user
        refresh = secrets.token_urlsafe(24)
        self.refresh[refresh] = (sid, 0)
        self.generation[sid] = 0
        return sid, {"access_token": self.tokens.issue(user, sid), "refresh_token": refresh}

    async def login(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204)
        f = self.flaws
        if "ratelimit.login" not in f and not self.buckets["login"].take():
            return _throttled()
        body, error = await self._json(request)
        if error:
            return error
        user, password = body.get("username", ""), body.get("password", "")
        if "'" in user and "errors.sql-error" in f:
            return PlainTextResponse('sqlite3.OperationalError: unrecognized token: "\'"', 500)
        if self.failures.get(user, 0) >= 5 and "auth.no-throttling" not in f:
            return _throttled()
        if user not in self.users:
            if "auth.enumeration-response" in f:
                return JSONResponse({"error": "no such user"}, 404)
            return JSONResponse({"error": "invalid credentials"}, 401)
        if "auth.enumeration-timing" in f:
            import asyncio

            await asyncio.sleep(0.04)  # "hashing" only for existing accounts
        if not hmac.compare_digest(self.users[user].encode(), password.encode()):
            self.failures[user] = self.failures.get(user, 0) + 1
            return JSONResponse({"error": "invalid credentials"}, 401)
        self.failures[user] = 0
        sid, pair = self._start_session(user)
        response = JSONResponse(pair)
        kept = request.cookies.get("__Host-sid") or request.cookies.get("sid")
        if "auth.session-fixation" in f and kept:
            self.sessions[kept] = user  # promotes the pre-login cookie
        else:
            response.headers.append("set-cookie", self._cookie(sid))
        return response

    async def refresh_route(self, request: Request) -> Response:
        body, error = await self._json(request)
        if error:
            return error
        found = self.refresh.get(body.get("refresh_token", ""))
        if found is None:
            return JSONResponse({"error": "invalid token"}, 401)
        sid, generation = found
        if sid in self.revoked and "auth.logout" not in self.flaws:
            return JSONResponse({"error": "invalid token"}, 401)
        if generation != self.generation[sid] and "token.refresh-reuse" not in self.flaws:
            self.revoked.add(sid)  # reuse: end the whole session
            return JSONResponse({"error": "invalid token"}, 401)
        self.generation[sid] = generation + 1
        refresh = secrets.token_urlsafe(24)
        self.refresh[refresh] = (sid, generation + 1)
        access = self.tokens.issue(self.sessions[sid], sid)
        return JSONResponse({"access_token": access, "refresh_token": refresh})

    async def _claims(self, request: Request) -> dict[str, Any] | None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None
        claims = await self.tokens.verify(auth[7:])
        if claims is None:
            return None
        if claims.get("sid") in self.revoked and "token.revocation" not in self.flaws:
            return None
        return claims

    async def logout(self, request: Request) -> Response:
        claims = await self._claims(request)
        if claims is None:
            return JSONResponse({"error": "unauthorized"}, 401)
        self.revoked.add(str(claims.get("sid")))
        return Response(status_code=204)

    async def verify(self, request: Request) -> Response:
        claims = await self._claims(request)
        cookie = request.cookies.get("__Host-sid") or request.cookies.get("sid")
        if claims is None and cookie in self.sessions:
            claims = {"sub": self.sessions[cookie]}
        if claims is None:
            return JSONResponse({"error": "unauthorized"}, 401)
        return JSONResponse({"sub": claims.get("sub")})

    async def search(self, request: Request) -> Response:
        if "ratelimit.endpoint" not in self.flaws and not self.buckets["search"].take():
            return _throttled()
        q = request.query_params.get("q", "")
        if ("'" in q or '"' in q) and "<" not in q and "inject.sql-error" in self.flaws:
            return PlainTextResponse("You have an error in your SQL syntax near '" + q + "'", 500)
        if "inject.xss" in self.flaws:
            return HTMLResponse(f"<html><body>Results for {q}</body></html>")
        return JSONResponse({"q": q, "results": []})

    async def go(self, request: Request) -> Response:
        target = request.query_params.get("next", "/")
        local = target.startswith("/") and not target.startswith(("//", "/\\"))
        if not local and "redirect.open" not in self.flaws:
            return JSONResponse({"error": "bad redirect"}, 400)
        return RedirectResponse(target, status_code=302)

    async def orders(self, request: Request) -> Response:
        body = await request.body()
        ts, nonce = request.headers.get("x-timestamp", ""), request.headers.get("x-nonce", "")
        expected = hmac.new(ORDER_SECRET, f"{ts}.{nonce}.".encode() + body, hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), request.headers.get("x-signature", "")):
            return JSONResponse({"error": "bad signature"}, 401)
        if nonce in self.nonces and "replay.signed" not in self.flaws:
            return JSONResponse({"error": "replayed"}, 409)
        self.nonces.add(nonce)
        return JSONResponse({"ok": True}, 201)


def signed_order(body: bytes = b'{"item": 1}') -> dict[str, Any]:
    """A request for ``/v1/orders`` signed once, as a ``--replay-request`` file holds it."""
    ts, nonce = str(int(time.time())), secrets.token_hex(8)
    signature = hmac.new(ORDER_SECRET, f"{ts}.{nonce}.".encode() + body, hashlib.sha256)
    headers = {"x-timestamp": ts, "x-nonce": nonce, "x-signature": signature.hexdigest(),
               "content-type": "application/json"}  # fmt: skip
    return {"method": "POST", "path": "/v1/orders", "headers": headers, "body": body.decode()}
