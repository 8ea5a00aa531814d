"""Rate limiting: GCRA with policies over a memory or Redis store.

Policy (what to limit), algorithm (pure GCRA in integer microseconds) and storage (where the
state lives) are separate: build :class:`Policy` objects, pick a store, and ask a
:class:`Limiter` for a :class:`Decision` per request. ``http/`` only turns decisions into
responses (429, ``Retry-After``, ``RateLimit-Policy``, ``RateLimit``).
"""

from __future__ import annotations

from bastion.ratelimit._gcra import Verdict as Verdict
from bastion.ratelimit._gcra import gcra as gcra
from bastion.ratelimit._limiter import Decision as Decision
from bastion.ratelimit._limiter import Limiter as Limiter
from bastion.ratelimit._policy import Match as Match
from bastion.ratelimit._policy import Policy as Policy
from bastion.ratelimit._policy import RequestFacts as RequestFacts
from bastion.ratelimit._policy import normal_path as normal_path
from bastion.ratelimit._rate import Rate as Rate
from bastion.ratelimit._rate import parse_rate as parse_rate
from bastion.ratelimit._stores import MemoryRateLimitStore as MemoryRateLimitStore
from bastion.ratelimit._stores import RateLimitStore as RateLimitStore
from bastion.ratelimit._stores import RedisRateLimitStore as RedisRateLimitStore

__all__ = [
    "Decision",
    "Limiter",
    "Match",
    "MemoryRateLimitStore",
    "Policy",
    "Rate",
    "RateLimitStore",
    "RedisRateLimitStore",
    "RequestFacts",
    "Verdict",
    "gcra",
    "normal_path",
    "parse_rate",
]
