"""The Limiter: first matching policy decides, headers follow the ratelimit-headers draft,
and a store outage is handled as each policy says -- deny (fail closed) or local fallback
with a log event and metrics (ASVS V2.4.1, V11.1.4, V16.3.4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from bastion.errors import ConfigError, StorageUnavailable
from bastion.infra import ManualClock
from bastion.ratelimit import (
    Limiter,
    MemoryRateLimitStore,
    Policy,
    Rate,
    RequestFacts,
    Verdict,
)

AUTH = Policy(name="auth", match={"path": "/v1/auth/*", "methods": ["POST"]}, limits=["3/min"])
API = Policy(name="api", match={"path": "/v1/*"}, limits=["5/s", "7/h"], key="user", cost=1)


def _facts(path: str = "/v1/auth/login", method: str = "POST", **kw: object) -> RequestFacts:
    return RequestFacts(method=method, path=path, ip="203.0.113.7", **kw)  # type: ignore[arg-type]


class DownStore:
    """A store whose backend is unreachable until ``up`` is set; counts the calls it received."""

    def __init__(self) -> None:
        self.calls = 0
        self.up = False
        self.memory = MemoryRateLimitStore()

    async def acquire(
        self, key: str, rates: Sequence[Rate], cost: int, now: int
    ) -> tuple[bool, tuple[Verdict, ...]]:
        self.calls += 1
        if self.up:
            return await self.memory.acquire(key, rates, cost, now)
        raise StorageUnavailable

    async def check(self) -> None:
        raise StorageUnavailable


def _metric(policy: str, action: str) -> float:
    value = REGISTRY.get_sample_value(
        "bastion_ratelimit_backend_errors_total", {"policy": policy, "action": action}
    )
    return value or 0.0


async def test_allowed_then_limited_with_draft_headers(clock: ManualClock) -> None:
    limiter = Limiter([AUTH, API], MemoryRateLimitStore(), clock)
    first = await limiter.check(_facts())
    assert first.allowed and first.policy == "auth" and first.remaining == 2
    assert first.headers == {"RateLimit-Policy": '"auth";q=3;w=60', "RateLimit": '"auth";r=2;t=20'}
    for _ in range(2):
        assert (await limiter.check(_facts())).allowed
    denied = await limiter.check(_facts())
    assert not denied.allowed and denied.retry_after == 20
    assert denied.headers["Retry-After"] == "20"
    assert denied.headers["RateLimit"] == '"auth";r=0;t=60'
    clock.advance(20)
    assert (await limiter.check(_facts())).allowed


async def test_first_match_wins_and_unmatched_requests_are_unlimited(clock: ManualClock) -> None:
    limiter = Limiter([AUTH, API], MemoryRateLimitStore(), clock)
    assert limiter.policy_for("GET", "/v1/auth/login") == API
    assert limiter.policy_for("POST", "/v1//auth/login") == AUTH
    free = await limiter.check(_facts(path="/healthz", method="GET"))
    assert free.allowed and free.policy is None and not free.headers


async def test_rate_limit_header_names_the_limit_closest_to_exhaustion(
    clock: ManualClock,
) -> None:
    limiter = Limiter([API], MemoryRateLimitStore(), clock)
    for _ in range(5):
        decision = await limiter.check(_facts(path="/v1/x", method="GET", user="u"))
    assert decision.headers["RateLimit"] == '"api.1";r=0;t=1'
    clock.advance(1)
    decision = await limiter.check(_facts(path="/v1/x", method="GET", user="u"))
    assert decision.headers["RateLimit"].startswith('"api.2";r=1;')
    decision = await limiter.check(_facts(path="/v1/x", method="GET", user="u"))
    denied = await limiter.check(_facts(path="/v1/x", method="GET", user="u"))
    assert not denied.allowed and denied.headers["RateLimit"].startswith('"api.2";r=0;')
    assert (await limiter.check(_facts(path="/v1/x", method="GET", user="other"))).allowed


async def test_backend_error_on_a_deny_policy_denies(clock: ManualClock) -> None:
    before = _metric("auth", "deny")
    limiter = Limiter([AUTH], DownStore(), clock)
    with capture_logs() as logs:
        decision = await limiter.check(_facts())
        await limiter.check(_facts())
    assert not decision.allowed and decision.degraded and decision.retry_after == 5
    assert decision.headers == {"Retry-After": "5"}
    assert _metric("auth", "deny") == before + 2
    assert [e["event"] for e in logs] == ["ratelimit.backend.degraded"]  # once, not per request


async def test_backend_error_on_a_local_policy_falls_back_to_memory(clock: ManualClock) -> None:
    before = _metric("api", "local")
    down = DownStore()
    limiter = Limiter([API], down, clock, fallback_store=MemoryRateLimitStore())
    with capture_logs() as logs:
        results = [await limiter.check(_facts("/v1/x", "GET")) for _ in range(6)]
    assert [d.allowed for d in results] == [True] * 5 + [False]
    assert all(d.degraded for d in results) and down.calls == 6
    assert _metric("api", "local") == before + 6
    assert REGISTRY.get_sample_value("bastion_ratelimit_degraded") == 1.0
    assert logs[0]["event"] == "ratelimit.backend.degraded" and logs[0]["log_level"] == "warning"


async def test_recovery_is_logged_and_clears_the_gauge(clock: ManualClock) -> None:
    store = DownStore()
    limiter = Limiter([API], store, clock)
    await limiter.check(_facts("/v1/x", "GET"))
    store.up = True
    with capture_logs() as logs:
        decision = await limiter.check(_facts("/v1/x", "GET"))
    assert decision.allowed and not decision.degraded
    assert [e["event"] for e in logs] == ["ratelimit.backend.recovered"]
    assert REGISTRY.get_sample_value("bastion_ratelimit_degraded") == 0.0


async def test_check_stores_propagates_the_outage(clock: ManualClock) -> None:
    with pytest.raises(StorageUnavailable):
        await Limiter([API], DownStore(), clock).check_stores()


def test_duplicate_policy_names_are_a_config_error(clock: ManualClock) -> None:
    with pytest.raises(ConfigError):
        Limiter([API, API], MemoryRateLimitStore(), clock)


async def test_logs_hold_no_client_identifier(clock: ManualClock) -> None:
    limiter = Limiter([API], DownStore(), clock)
    with capture_logs() as logs:
        await limiter.check(_facts("/v1/x", "GET", user="alice@example.com"))
    assert "alice" not in repr(logs) and "203.0.113" not in repr(logs)


_SEGMENTS = st.sampled_from(["v1", "auth", "login", "api", "..", ".", "", "x", "orders", "7"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["GET", "POST", "PUT"]), st.lists(_SEGMENTS, max_size=6))),
)
def test_remembered_policy_choice_equals_matching_again(requests: list[Any]) -> None:
    """The (method, path) -> policy memo answers what matching the globs again answers,
    also for paths with ``//``, ``.`` and ``..`` and for the same path under other methods."""
    policies = [
        Policy(name="login", match={"path": "/v1/auth/login", "methods": ["POST"]}, limits=["1/s"]),
        Policy(name="auth", match={"path": "/v1/auth/*"}, limits=["1/s"]),
        Policy(name="api", match={"path": "/api/*", "methods": ["GET"]}, limits=["1/s"]),
    ]
    remembering = Limiter(policies, MemoryRateLimitStore(), ManualClock())
    for method, parts in requests * 2:  # each request twice: the second answer is remembered
        path = "/" + "/".join(parts)
        fresh = Limiter(policies, MemoryRateLimitStore(), ManualClock())
        assert remembering.policy_for(method, path) == fresh.policy_for(method, path)


def test_the_policy_memo_is_bounded() -> None:
    policy = Policy(name="api", match={"path": "/api/*"}, limits=["1/s"])
    limiter = Limiter([policy], MemoryRateLimitStore(), ManualClock())
    for n in range(5000):
        assert limiter.policy_for("GET", f"/api/{n}") == policy
    assert limiter.policy_for("GET", "/api/" + "x" * 600) == policy
    assert len(limiter._selected) <= 4096
