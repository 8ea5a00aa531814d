"""A rate: how many units per period, and how many may arrive at once (the burst).

Parsed from text such as ``"10/s"``, ``"100/min"``, ``"1000/h"``, ``"5000/day"``,
``"30/5min"`` or ``"10/s burst 50"``. The emission interval is kept in integer
microseconds and rounded *up*, so integer arithmetic never admits more than the stated rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bastion.errors import ConfigError

__all__ = ["Rate", "parse_rate"]

_US_PER_UNIT = {
    "s": 1_000_000,
    "sec": 1_000_000,
    "second": 1_000_000,
    "min": 60_000_000,
    "minute": 60_000_000,
    "h": 3_600_000_000,
    "hour": 3_600_000_000,
    "d": 86_400_000_000,
    "day": 86_400_000_000,
}
_TEXT = re.compile(
    r"(?P<limit>[1-9][0-9]{0,8})/(?P<count>[1-9][0-9]{0,4})?(?P<unit>[a-z]+)"
    r"(?: burst (?P<burst>[1-9][0-9]{0,8}))?"
)
_MAX_TEXT = 64


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` units per ``period_us`` microseconds, at most ``burst`` at once.

    ``interval_us`` (microseconds one unit costs, ``ceil(period / limit)``: never faster than
    stated), ``tolerance_us`` (``interval_us * burst``) and ``slug`` (a storage name that
    changes whenever the meaning changes) are derived once, at construction, because the hot
    path reads them on every decision.
    """

    limit: int
    period_us: int
    burst: int
    text: str
    interval_us: int = field(init=False, repr=False, compare=False)
    tolerance_us: int = field(init=False, repr=False, compare=False)
    slug: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "interval_us", -(-self.period_us // self.limit))
        object.__setattr__(self, "tolerance_us", self.interval_us * self.burst)
        object.__setattr__(self, "slug", f"{self.limit}-{self.period_us}-{self.burst}")

    @property
    def window_seconds(self) -> int:
        """The period in whole seconds (``w`` of the ``RateLimit-Policy`` header)."""
        return max(1, self.period_us // 1_000_000)


def parse_rate(text: str) -> Rate:
    """Parse ``"<limit>/[<n>]<unit> [burst <b>]"``; the burst defaults to the limit.

    Raises :class:`~bastion.errors.ConfigError` naming the text for anything else
    (unknown unit, zero, negative, fractional, extra words, overlong input).
    """
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        raise ConfigError(f"rate limit {str(text)[:_MAX_TEXT]!r} is not a rate like '10/s'")
    normal = " ".join(text.strip().lower().split())
    normal = normal.replace(" /", "/").replace("/ ", "/")
    match = _TEXT.fullmatch(normal)
    if match is None or match["unit"] not in _US_PER_UNIT:
        raise ConfigError(
            f"rate limit {text!r} is not a rate like '10/s', '100/min', '1000/h', '5000/day'"
            " (optionally followed by 'burst N')"
        )
    limit = int(match["limit"])
    period_us = int(match["count"] or 1) * _US_PER_UNIT[match["unit"]]
    burst = int(match["burst"] or limit)
    return Rate(limit=limit, period_us=period_us, burst=burst, text=text.strip())
