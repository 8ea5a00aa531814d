"""The one place Bastion reads the time. Services take a :class:`Clock`; tests pass a
:class:`ManualClock` and move it instead of sleeping."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch (wall clock)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for TTLs and caches)."""
        ...


class SystemClock:
    # The C functions themselves, not methods calling them: hot paths (signature checks, the
    # nonce and rate-limit stores) read the clock several times per request.
    now = staticmethod(time.time)
    monotonic = staticmethod(time.monotonic)


class ManualClock:
    """A clock that moves only when told to; wall and monotonic move together."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self._now = float(start)
        self._mono = 1000.0

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a ManualClock never goes back")
        self._now += seconds
        self._mono += seconds

    def set(self, epoch: float) -> None:
        self.advance(epoch - self._now)
