"""The gate: one decision per request under its route policy (``[[routes]]``), shared by
``/v1/verify`` (for the request a gateway forwards) and the ``guard.protect(app)`` stack.

In order: credentials are verified (when the route looks at them), the rate-limit policies
are spent (keyed by user, session or API key once those are known, else by client IP, so a
flood of bad credentials is limited too), then a missing or bad credential answers 401, a
missing scope 403, an API key's own rate 429, and input inspection 403 (``block``) or an audit
event (``monitor``). Every refusal is audited; floods are sampled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from bastion._gate_inputs import inspect_inputs
from bastion._principal import Principal, authenticate, bearer_token
from bastion._require import MissingScope
from bastion._routes import RouteTable
from bastion.config import RouteSettings
from bastion.errors import BastionError, Forbidden, InvalidToken, Throttled
from bastion.inspect import Verdict
from bastion.monitor import mask_ip
from bastion.ratelimit import Decision, Policy, RequestFacts

if TYPE_CHECKING:
    from bastion._facade import Bastion

__all__ = [
    "DEFAULT_ROUTE",
    "Denied",
    "Gate",
    "Passage",
    "RateLimited",
    "RequestBlocked",
    "RouteRequest",
]

DEFAULT_ROUTE = RouteSettings(path="/*")
"""What a request that no ``[[routes]]`` entry matches gets: a credential is required."""

_ROUTE_CACHE = 8192
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


def _missing(required: tuple[str, ...], held: tuple[str, ...]) -> list[str]:
    """The scopes of ``required`` not in ``held``, sorted; empty (at no cost) when none."""
    if not required:
        return []
    lacking = [scope for scope in required if scope not in held]
    return sorted(set(lacking)) if lacking else []


class RequestBlocked(Forbidden):
    type = "request-blocked"
    title = "Request blocked"
    default_detail = "Input inspection refused this request."


class RateLimited(Throttled):
    """A 429 carrying the ``RateLimit-Policy``/``RateLimit``/``Retry-After`` of the decision."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.retry_after, "Too many requests; retry after Retry-After.")
        self.decision = decision

    def headers(self) -> dict[str, str]:
        return {**self.decision.headers, "Retry-After": str(self.retry_after)}


class Denied(Exception):
    """A refusal: ``error`` is the problem to answer with, ``headers`` the rate-limit headers
    already earned by the request (sent on refusals too, as on allowed responses)."""

    def __init__(self, error: BastionError, headers: Mapping[str, str]) -> None:
        super().__init__(error.type)
        self.error, self.headers = error, headers

    def response_headers(self) -> dict[str, str]:
        return {**self.headers, **self.error.headers()}


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """What the gate knows of a request: the method and path (decoded), the raw query string,
    lower-case header names, and the client IP as resolved through the trusted proxies."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    ip: str = "unknown"


@dataclass(frozen=True, slots=True)
class Passage:
    """A request let through: its route, the caller (None on routes without auth), and the
    rate-limit headers to add to the response."""

    route: RouteSettings
    principal: Principal | None
    headers: Mapping[str, str]


class Gate:
    """Built once per :class:`~bastion.Bastion`; :meth:`check` is on every request."""

    def __init__(self, guard: Bastion) -> None:
        self._guard = guard
        self.routes = RouteTable(guard.settings.routes)
        self._seen: dict[tuple[str, str], tuple[RouteSettings, bool]] = {}
        self.signs = any(route.require_signature for route in guard.settings.routes)
        """Whether any route requires a request signature (else that check is skipped)."""

    def _lookup(self, method: str, path: str) -> tuple[RouteSettings, bool]:
        """The route of ``method path`` and whether a rate-limit policy matches it; both are
        fixed by the settings, so they are remembered (every layer asks, paths repeat)."""
        key = (method, path)
        found = self._seen.get(key)
        if found is None:
            if len(self._seen) >= _ROUTE_CACHE:
                self._seen.clear()
            route = self.routes.match(method, path) or DEFAULT_ROUTE
            limited = self._guard.limiter.policy_for(method, path) is not None
            found = self._seen[key] = (route, limited)
        return found

    def route_for(self, method: str, path: str) -> RouteSettings:
        """The route of ``method path``."""
        return self._lookup(method, path)[0]

    async def check(self, request: RouteRequest, route: RouteSettings | None = None) -> Passage:
        """Let ``request`` through or raise :class:`Denied` around the refusal
        (:class:`InvalidToken` 401, :class:`MissingScope` 403, :class:`RateLimited` 429,
        :class:`RequestBlocked` 403)."""
        found, limited = self._lookup(request.method, request.path)
        route = route or found
        who, failure = await self._authenticate(route, request)
        headers: Mapping[str, str] = _NO_HEADERS
        if limited:
            try:
                headers = await self._limit(request, who)
            except BastionError as exc:
                raise Denied(exc, {}) from None
        try:
            if failure is not None:
                await self._deny_credential(failure, request)
                raise failure
            if who is not None:
                missing = _missing(route.scopes, who.scopes)
                if missing:
                    await self._deny_scopes(missing, who, request)
                if who.rate and who.key_id:
                    extra = await self._key_rate(request, who)
                    headers = {**headers, **extra}
            if route.inspect != "off":
                verdict = self.inspect_request(route, request)
                if verdict is not None and verdict.attack:
                    await self.inspect(route, request, verdict)
        except BastionError as exc:
            raise Denied(exc, headers) from None
        return Passage(route, who, headers)

    async def _authenticate(
        self, route: RouteSettings, request: RouteRequest
    ) -> tuple[Principal | None, InvalidToken | None]:
        if route.auth == "none":
            return None, None
        token = bearer_token(request.headers.get("authorization"))
        api_key = request.headers.get("x-api-key")
        if route.auth == "optional" and token is None and api_key is None:
            return None, None
        guard = self._guard
        if token is not None and api_key is None:
            claims = guard.sessions.verify_access_cached(token)
            if claims is not None:  # the warm path: a dict lookup
                return Principal(claims.subject, claims.scopes, session_id=claims.session_id), None
        try:
            who = await authenticate(
                guard.sessions, guard.apikeys, bearer=token, api_key=api_key, ip=request.ip
            )
        except InvalidToken as exc:
            return None, exc
        return who, None

    async def _limit(self, request: RouteRequest, who: Principal | None) -> Mapping[str, str]:
        """Spend the policy that matches the request (the caller knows one does)."""
        facts = RequestFacts(
            request.method,
            request.path,
            request.ip,
            user=who.subject if who else None,
            session=who.session_id if who else None,
            apikey=who.key_id if who else None,
            headers=request.headers,
        )
        decision = await self._guard.limiter.check(facts)
        if not decision.allowed:
            await self._deny_rate(decision, request)
            raise RateLimited(decision)
        return decision.headers

    async def _key_rate(self, request: RouteRequest, who: Principal) -> Mapping[str, str]:
        assert who.rate is not None and who.key_id is not None
        policy = Policy(name="apikey", key="apikey", limits=(who.rate,))
        facts = RequestFacts(request.method, request.path, request.ip, apikey=who.key_id)
        decision = await self._guard.limiter.check_policy(policy, facts)
        if not decision.allowed:
            await self._deny_rate(decision, request)
            raise RateLimited(decision)
        return decision.headers

    async def _deny_scopes(self, missing: list[str], who: Principal, request: RouteRequest) -> None:
        await self._guard.audit.record(
            "authz.denied",
            "denied",
            subject=who.subject,
            reason="missing_scope",
            ip=request.ip,
            details={"missing": " ".join(missing), "path": request.path[:128]},
        )
        raise MissingScope(f"This route needs the scope(s): {', '.join(missing)}.", missing=missing)

    def inspect_request(self, route: RouteSettings, request: RouteRequest) -> Verdict | None:
        """Inspect the query string, cookies and the free-text headers; None when there is
        nothing to look at (the common case costs no scoring at all)."""
        return inspect_inputs(request.query, request.headers, route.rich_text)

    async def inspect(
        self, route: RouteSettings, request: RouteRequest, verdict: Verdict | None
    ) -> None:
        """Act on a verdict under the route's mode: audit a flagged request, and in ``block``
        mode refuse it with :class:`RequestBlocked`."""
        if verdict is None or not verdict.attack or route.inspect == "off":
            return
        kinds = " ".join(verdict.kinds[:4])
        facts: dict[str, Any] = {
            "key": f"{kinds}:{mask_ip(request.ip, 'masked')}",
            "reason": verdict.kinds[0] if verdict.kinds else "attack",
            "ip": request.ip,
            "details": {"kinds": kinds, "score": verdict.score, "path": request.path[:128]},
        }
        if route.inspect == "block":
            await self._guard.audit.record_sampled("inspect.blocked", "denied", **facts)
            raise RequestBlocked()
        await self._guard.audit.record_sampled("inspect.flagged", "success", **facts)

    async def _deny_credential(self, exc: InvalidToken, request: RouteRequest) -> None:
        reason = exc.reason or "invalid"
        await self._guard.audit.record_sampled(
            "verify.denied",
            "denied",
            key=f"{reason}:{mask_ip(request.ip, 'masked')}",
            reason=reason,
            ip=request.ip,
        )

    async def _deny_rate(self, decision: Decision, request: RouteRequest) -> None:
        await self._guard.audit.record_sampled(
            "ratelimit.denied",
            "denied",
            key=f"{decision.policy}:{mask_ip(request.ip, 'masked')}",
            reason=decision.policy,
            ip=request.ip,
        )
