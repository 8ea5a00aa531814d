"""The :class:`Limiter` service: pick the first matching policy, build its key, spend the cost
in the store, and turn the verdicts into a :class:`Decision` carrying the ``RateLimit-Policy``
and ``RateLimit`` header values of draft-ietf-httpapi-ratelimit-headers-10 (September 2025):

    RateLimit-Policy: "api.1";q=10;w=1, "api.2";q=1000;w=3600
    RateLimit: "api.1";r=0;t=1

``RateLimit`` names the policy item closest to exhaustion (the denying one when denied).
No ``pk`` parameter is sent: the partition key is a client identifier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import structlog
from prometheus_client import Counter, Gauge

from bastion.errors import ConfigError, StorageUnavailable
from bastion.infra import Clock
from bastion.ratelimit._gcra import Verdict
from bastion.ratelimit._policy import (
    CompiledPolicy,
    Policy,
    RequestFacts,
    compile_policy,
    normal_path,
)
from bastion.ratelimit._stores import MemoryRateLimitStore, RateLimitStore

__all__ = ["Decision", "Limiter"]

log = structlog.get_logger("bastion.ratelimit")
BACKEND_ERRORS = Counter(
    "bastion_ratelimit_backend_errors_total",
    "Rate-limit decisions taken while the shared store was unreachable",
    ["policy", "action"],
)
DEGRADED = Gauge("bastion_ratelimit_degraded", "1 while rate limits fall back to in-process state")
_US = 1_000_000
_DENY_RETRY_SECONDS = 5
_ADHOC_MAX = 1024


def _seconds(us: int) -> int:
    return -(-us // _US)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one request. ``retry_after`` is whole seconds (0 when allowed);
    ``headers`` holds ``RateLimit-Policy``, ``RateLimit`` and, when denied, ``Retry-After``;
    ``degraded`` is true when the shared store was unreachable for this decision."""

    allowed: bool
    policy: str | None = None
    remaining: int | None = None
    reset_after: int = 0
    retry_after: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    degraded: bool = False


UNLIMITED = Decision(allowed=True, headers=MappingProxyType({}))


def _decide(
    compiled: CompiledPolicy, allowed: bool, verdicts: Sequence[Verdict], degraded: bool
) -> Decision:
    if len(verdicts) == 1:
        index = 0
    elif allowed:
        index = min(range(len(verdicts)), key=lambda i: verdicts[i].remaining)
    else:
        index = max(range(len(verdicts)), key=lambda i: verdicts[i].retry_after_us)
    chosen = verdicts[index]
    reset = _seconds(chosen.reset_after_us)
    headers = {
        "RateLimit-Policy": compiled.policy_header,
        "RateLimit": f'"{compiled.item_names[index]}";r={chosen.remaining};t={reset}',
    }
    retry = 0 if allowed else max(1, _seconds(chosen.retry_after_us))
    if not allowed:
        headers["Retry-After"] = str(retry)
    return Decision(
        allowed, compiled.policy.name, chosen.remaining, reset, retry, headers, degraded
    )


_SELECTED_MAX = 4096
_SELECTED_PATH_MAX = 512


class Limiter:
    """Rate limiting over ordered policies; the first policy that matches a request decides.

    Fails closed: a store fault on a ``deny`` policy denies (``degraded=True``,
    ``Retry-After: 5``); on a ``local`` policy the decision is taken by ``fallback_store``
    (in-process, so per replica) and a ``ratelimit.backend.degraded`` event plus the
    ``bastion_ratelimit_*`` metrics record it. Raises :class:`ConfigError` for duplicate
    policy names. Time is read once per decision from ``clock.now()`` in integer µs.
    """

    def __init__(
        self,
        policies: Sequence[Policy],
        store: RateLimitStore,
        clock: Clock,
        fallback_store: RateLimitStore | None = None,
    ) -> None:
        names = [p.name for p in policies]
        if len(set(names)) != len(names):
            raise ConfigError("ratelimit policy names must be unique")
        self._policies = tuple(compile_policy(p) for p in policies)
        self._store = store
        self._clock = clock
        self._fallback = fallback_store or MemoryRateLimitStore()
        self._degraded = False
        self._adhoc: dict[Policy, CompiledPolicy] = {}
        # The policy of each (method, path) seen, bounded: matching globs is a pure function
        # of the two, and routes repeat.
        self._selected: dict[tuple[str, str], CompiledPolicy | None] = {}

    def policy_for(self, method: str, path: str) -> Policy | None:
        """The first policy matching ``method`` and the normalised ``path``, if any."""
        compiled = self._select(method, path)
        return compiled.policy if compiled else None

    def _select(self, method: str, path: str) -> CompiledPolicy | None:
        try:
            return self._selected[method, path]
        except KeyError:
            pass
        normal = normal_path(path)
        found = next((c for c in self._policies if c.matches(method, normal)), None)
        if len(self._selected) >= _SELECTED_MAX:
            self._selected.clear()
        if len(path) <= _SELECTED_PATH_MAX:
            self._selected[method, path] = found
        return found

    async def check(self, facts: RequestFacts) -> Decision:
        """Spend the matching policy's cost for this request and say whether it may proceed.

        Atomic per decision (all limits of the policy pass or nothing is spent). A request
        that no policy matches is allowed with no headers.
        """
        compiled = self._select(facts.method, facts.path)
        if compiled is None:
            return UNLIMITED
        return await self._acquire(compiled, facts)

    async def check_policy(self, policy: Policy, facts: RequestFacts) -> Decision:
        """Spend ``policy`` for this request whatever its route, e.g. an API key's own rate
        (``Policy(name="apikey", key="apikey", limits=(key.rate,))``). Compiled policies are
        kept, so a few distinct policies cost one parse each."""
        compiled = self._adhoc.get(policy)
        if compiled is None:
            if len(self._adhoc) >= _ADHOC_MAX:
                self._adhoc.clear()
            compiled = self._adhoc[policy] = compile_policy(policy)
        return await self._acquire(compiled, facts)

    async def _acquire(self, compiled: CompiledPolicy, facts: RequestFacts) -> Decision:
        key = compiled.key_for(facts)
        now = int(self._clock.now() * _US)
        policy = compiled.policy
        try:
            allowed, verdicts = await self._store.acquire(key, compiled.rates, policy.cost, now)
        except StorageUnavailable:
            return await self._on_backend_error(compiled, key, now)
        if self._degraded:
            self._degraded = False
            DEGRADED.set(0)
            log.info("ratelimit.backend.recovered")
        return _decide(compiled, allowed, verdicts, degraded=False)

    async def _on_backend_error(self, compiled: CompiledPolicy, key: str, now: int) -> Decision:
        policy = compiled.policy
        BACKEND_ERRORS.labels(policy.name, policy.on_backend_error).inc()
        if not self._degraded:
            self._degraded = True
            DEGRADED.set(1)
            log.warning("ratelimit.backend.degraded", policy=policy.name)
        if policy.on_backend_error == "deny":
            retry = _DENY_RETRY_SECONDS
            headers = {"Retry-After": str(retry)}
            return Decision(False, policy.name, None, 0, retry, headers, degraded=True)
        allowed, verdicts = await self._fallback.acquire(key, compiled.rates, policy.cost, now)
        return _decide(compiled, allowed, verdicts, degraded=True)

    async def close(self) -> None:
        """Release the shared store's connections (Redis); the memory store has none."""
        closer = getattr(self._store, "close", None)
        if closer is not None:
            await closer()

    async def check_stores(self) -> None:
        """Readiness probe: raises :class:`StorageUnavailable` if the shared store is down."""
        await self._store.check()
