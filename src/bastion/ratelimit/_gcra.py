"""The Generic Cell Rate Algorithm as a pure function: no I/O, no clock, integer time.

State per key is one number, the *theoretical arrival time* (TAT) in integer microseconds
since the Unix epoch. A request of ``cost`` units at ``now`` pushes the TAT by
``cost * interval``; it is admitted while the pushed TAT stays within ``burst * interval``
of ``now``. Integers keep it exact: a burst of 100 admits exactly 100 (a float version
admitted 99). Microseconds since the epoch stay below 2**53, so the Redis Lua script,
whose numbers are doubles, computes the very same values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from bastion.ratelimit._rate import Rate

__all__ = ["Verdict", "gcra", "gcra_all"]


class Verdict(NamedTuple):
    """The outcome for one rate. ``tat`` is the value to store (unchanged when denied);
    times are microseconds from ``now``; ``retry_after_us`` is 0 when allowed."""

    allowed: bool
    tat: int
    remaining: int
    reset_after_us: int
    retry_after_us: int


# tuple.__new__ builds the NamedTuple without its Python-level __new__: this is the hot path
# of every in-process decision, and the positional order above is the contract.
_verdict: Callable[[type[Verdict], tuple[bool, int, int, int, int]], Verdict] = tuple.__new__


def gcra(tat: int | None, now: int, rate: Rate, cost: int) -> Verdict:
    """Decide one request of ``cost`` units against ``rate`` given the stored ``tat``.

    Guarantee: over any interval of length ``d`` the admitted cost never exceeds
    ``burst + d // interval``. A ``cost`` above the burst is never admitted.
    """
    interval = rate.interval_us
    tolerance = rate.tolerance_us
    base = now if tat is None or tat < now else tat
    new_tat = base + interval * cost
    headroom = now - (new_tat - tolerance)
    if headroom < 0:  # refused: built positionally too, since floods take this path
        spare = now - (base - tolerance)
        return _verdict(
            Verdict, (False, base, spare // interval if spare > 0 else 0, base - now, -headroom)
        )
    return _verdict(Verdict, (True, new_tat, headroom // interval, new_tat - now, 0))


def gcra_all(
    tats: Sequence[int | None], now: int, rates: Sequence[Rate], cost: int
) -> tuple[bool, tuple[Verdict, ...]]:
    """Decide one request against several rates at once: all pass or nothing is spent.

    When any rate denies, the verdicts of the rates that would have passed are reported
    with cost 0 (their current standing), so no verdict claims units that were not spent.
    """
    if len(rates) == 1:  # the common cases, without loop overhead
        verdict = gcra(tats[0], now, rates[0], cost)
        return verdict.allowed, (verdict,)
    if len(rates) == 2:
        first = gcra(tats[0], now, rates[0], cost)
        second = gcra(tats[1], now, rates[1], cost)
        if first.allowed and second.allowed:
            return True, (first, second)
        if first.allowed:
            first = gcra(tats[0], now, rates[0], 0)
        elif second.allowed:
            second = gcra(tats[1], now, rates[1], 0)
        return False, (first, second)
    allowed = True
    verdicts = []
    for tat, rate in zip(tats, rates, strict=True):  # a plain loop: no generator frames
        verdict = gcra(tat, now, rate, cost)
        verdicts.append(verdict)
        if not verdict.allowed:
            allowed = False
    if allowed:
        return True, tuple(verdicts)
    return False, tuple(
        [
            gcra(t, now, r, 0) if v.allowed else v
            for t, r, v in zip(tats, rates, verdicts, strict=True)
        ]
    )
