"""Who may read the Prometheus metrics: anyone who reaches the port (the default, for a
service on an internal network), or only a scraper holding the metrics token.

Prometheus sends the token with ``authorization: {credentials: ...}`` in its scrape config,
as ``Authorization: Bearer <token>``. The comparison is over SHA-256 digests with
``hmac.compare_digest``, so neither the token's bytes nor its length show in the timing.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["MIN_METRICS_TOKEN_CHARS", "MetricsAccess"]

MIN_METRICS_TOKEN_CHARS = 24


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class MetricsAccess:
    """The metrics endpoint's rule; ``token=None`` leaves it public."""

    __slots__ = ("_digest",)

    def __init__(self, token: str | None) -> None:
        if token is not None and len(token) < MIN_METRICS_TOKEN_CHARS:
            raise ValueError(f"the metrics token needs {MIN_METRICS_TOKEN_CHARS}+ characters")
        self._digest = None if token is None else _digest(token)

    @property
    def public(self) -> bool:
        return self._digest is None

    def check(self, presented: str | None) -> str | None:
        """None when ``presented`` (the bearer token sent, or None) may read the metrics,
        else the reason for the audit log: ``missing`` or ``mismatch``."""
        if self._digest is None:
            return None
        if presented is None:
            return "missing"
        return None if hmac.compare_digest(_digest(presented), self._digest) else "mismatch"
