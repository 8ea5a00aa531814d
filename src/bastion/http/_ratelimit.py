"""Pure ASGI middleware that asks the rate limiter about every request.

Allowed responses carry ``RateLimit-Policy`` and ``RateLimit``; a refused request gets a 429
problem with ``Retry-After`` before any route runs, and an audit event (sampled per policy and
client network, since a flood is the very thing being refused).
"""

from __future__ import annotations

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.errors import Throttled
from bastion.http._middleware import with_headers
from bastion.http._problems import problem_response
from bastion.monitor import AuditLog
from bastion.ratelimit import Limiter, RequestFacts

__all__ = ["RateLimitMiddleware"]

LIMITED = Counter(
    "bastion_ratelimit_denied_total", "Requests refused by a rate-limit policy", ["policy"]
)


class RateLimitMiddleware:
    """Reads the limiter from the running Bastion (``app.state.bastion``), which the app opens
    at start-up, after the middleware stack is built."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = scope["app"].state.bastion
        limiter: Limiter = guard.limiter
        if limiter.policy_for(scope["method"], scope["path"]) is None:
            await self.app(scope, receive, send)  # the common case: nothing to count
            return
        audit: AuditLog = guard.audit
        ip = scope.get("state", {}).get("client_ip") or "unknown"
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        facts = RequestFacts(scope["method"], scope["path"], ip, headers=headers)
        decision = await limiter.check(facts)
        extra = [(k.lower().encode(), v.encode()) for k, v in decision.headers.items()]
        if not decision.allowed:
            LIMITED.labels(decision.policy or "").inc()
            await audit.record_denied("ratelimit.denied", reason=decision.policy, ip=ip)
            refusal = Throttled(decision.retry_after)
            response = problem_response(
                refusal.status, refusal.problem(scope["path"]), dict(decision.headers)
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, with_headers(send, extra) if extra else send)
