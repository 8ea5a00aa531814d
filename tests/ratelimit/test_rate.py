"""Rates parse strictly: every accepted text has one meaning, everything else is a
ConfigError naming the text (ASVS V2.4.1 -- anti-automation limits are configured, not guessed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.errors import ConfigError
from bastion.ratelimit import Rate, parse_rate


@pytest.mark.parametrize(
    ("text", "limit", "period_us", "burst"),
    [
        ("10/s", 10, 1_000_000, 10),
        ("100/min", 100, 60_000_000, 100),
        ("1000/h", 1000, 3_600_000_000, 1000),
        ("5000/day", 5000, 86_400_000_000, 5000),
        ("30/5min", 30, 300_000_000, 30),
        ("10/s burst 50", 10, 1_000_000, 50),
        ("  10 / second   burst   3 ", 10, 1_000_000, 3),
        ("7/HOUR", 7, 3_600_000_000, 7),
    ],
)
def test_parse_accepts_the_documented_shapes(
    text: str, limit: int, period_us: int, burst: int
) -> None:
    rate = parse_rate(text)
    assert (rate.limit, rate.period_us, rate.burst) == (limit, period_us, burst)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "10",
        "0/s",
        "-1/s",
        "1.5/s",
        "10/fortnight",
        "10/s burst 0",
        "10/s burst",
        "10/s extra",
        "10/0s",
        "ten/s",
        "10/s" + " " * 80,
    ],
)
def test_parse_rejects_anything_else_naming_the_text(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rate(text)
    assert text.strip()[:20] in str(caught.value)


def test_interval_rounds_up_so_the_rate_is_never_exceeded() -> None:
    rate = parse_rate("3/s")
    assert rate.interval_us == 333_334
    assert rate.interval_us * rate.limit >= rate.period_us
    assert parse_rate("10/s").interval_us == 100_000


def test_slug_changes_with_meaning_and_window_is_whole_seconds() -> None:
    assert parse_rate("10/s").slug != parse_rate("10/s burst 20").slug
    assert parse_rate("10/min").window_seconds == 60
    assert isinstance(parse_rate("1/day"), Rate)


@given(st.text(max_size=40))
def test_parse_either_returns_a_positive_rate_or_raises_config_error(text: str) -> None:
    try:
        rate = parse_rate(text)
    except ConfigError:
        return
    assert rate.limit >= 1 and rate.burst >= 1 and rate.period_us >= 1_000_000


@given(
    st.integers(1, 10**6),
    st.sampled_from(["s", "min", "h", "day"]),
    st.integers(1, 10**6),
)
def test_parse_round_trips_generated_rates(limit: int, unit: str, burst: int) -> None:
    rate = parse_rate(f"{limit}/{unit} burst {burst}")
    assert rate.limit == limit and rate.burst == burst
