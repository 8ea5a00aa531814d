"""The system clock reads the operating system's clocks (as plain C functions, no wrapper)."""

from __future__ import annotations

import time

from bastion.infra import Clock, SystemClock


def test_system_clock_reads_wall_and_monotonic_time() -> None:
    clock: Clock = SystemClock()
    before, mono = time.time(), time.monotonic()
    now, later = clock.now(), clock.monotonic()
    assert isinstance(now, float) and isinstance(later, float)
    assert before <= now <= time.time() and mono <= later <= time.monotonic()
    assert SystemClock.now is time.time and SystemClock.monotonic is time.monotonic
