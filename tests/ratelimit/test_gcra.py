"""GCRA in integer microseconds: exact bursts and never more than burst + elapsed * rate
(ASVS V2.4.1 anti-automation, V11.1.4 rate limits)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.ratelimit import gcra, parse_rate
from bastion.ratelimit._gcra import gcra_all

NOW = 1_750_000_000_000_000


def _burst(text: str, attempts: int, cost: int = 1) -> int:
    rate = parse_rate(text)
    tat: int | None = None
    admitted = 0
    for _ in range(attempts):
        verdict = gcra(tat, NOW, rate, cost)
        if verdict.allowed:
            admitted += cost
        tat = verdict.tat
    return admitted


def test_a_burst_of_100_admits_exactly_100() -> None:
    assert _burst("100/s", 500) == 100
    assert _burst("1/day burst 100", 500) == 100
    assert _burst("3/s burst 100", 500) == 100


def test_weighted_cost_spends_several_units() -> None:
    assert _burst("10/s", 50, cost=3) == 9


def test_denial_reports_retry_after_and_state_is_unchanged() -> None:
    rate = parse_rate("10/s")
    tat = None
    for _ in range(10):
        tat = gcra(tat, NOW, rate, 1).tat
    denied = gcra(tat, NOW, rate, 1)
    assert not denied.allowed and denied.tat == tat
    assert denied.retry_after_us == 100_000 and denied.remaining == 0
    assert denied.reset_after_us == 1_000_000
    later = gcra(tat, NOW + denied.retry_after_us, rate, 1)
    assert later.allowed and later.remaining == 0


def test_allowed_reports_remaining_and_reset() -> None:
    first = gcra(None, NOW, parse_rate("10/s"), 1)
    assert first.allowed and first.remaining == 9
    assert first.reset_after_us == 100_000 and first.retry_after_us == 0


def test_cost_above_burst_is_never_admitted() -> None:
    assert not gcra(None, NOW, parse_rate("10/s"), 11).allowed


def test_gcra_all_spends_nothing_unless_every_rate_passes() -> None:
    fast, slow = parse_rate("10/s"), parse_rate("2/h")
    allowed, verdicts = gcra_all([None, NOW + 2 * slow.interval_us], NOW, [fast, slow], 1)
    assert not allowed
    assert verdicts[0].allowed and verdicts[0].remaining == 10 and verdicts[0].tat == NOW
    assert not verdicts[1].allowed


@settings(max_examples=300, deadline=None)
@given(
    limit=st.integers(1, 1000),
    unit=st.sampled_from(["s", "min", "h"]),
    burst=st.integers(1, 200),
    steps=st.lists(
        st.tuples(st.integers(0, 2_000_000), st.integers(1, 5)), min_size=1, max_size=300
    ),
)
def test_never_admits_more_than_burst_plus_elapsed_times_rate(
    limit: int, unit: str, burst: int, steps: list[tuple[int, int]]
) -> None:
    rate = parse_rate(f"{limit}/{unit} burst {burst}")
    tat: int | None = None
    now = NOW
    admitted = 0
    for gap, cost in steps:
        now += gap
        verdict = gcra(tat, now, rate, cost)
        tat = verdict.tat
        admitted += cost if verdict.allowed else 0
        # exact integer bound: burst + elapsed * limit / period
        assert admitted * rate.period_us <= burst * rate.period_us + (now - NOW) * limit


RATE_POOL = [parse_rate(t) for t in ("10/s", "2/min", "5/s burst 20", "100/h burst 3", "1/s")]


@settings(max_examples=300, deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.integers(0, len(RATE_POOL) - 1), st.integers(-1, 400)),
        min_size=1,
        max_size=4,
        unique_by=lambda pick: pick[0],
    ),
    cost=st.integers(0, 25),
)
def test_gcra_all_is_each_gcra_with_nothing_spent_unless_all_pass(
    picks: list[tuple[int, int]], cost: int
) -> None:
    """The definition, against the one- and two-rate fast paths and the general loop: a TAT
    up to 400 ms ahead (or -1, read back from Redis for a missing key, like None)."""
    rates = [RATE_POOL[i] for i, _ in picks]
    tats: list[int | None] = [None if ahead < 0 else NOW + ahead * 1000 for _, ahead in picks]
    spent = [gcra(t, NOW, r, cost) for t, r in zip(tats, rates, strict=True)]
    allowed = all(v.allowed for v in spent)
    expected = (
        spent
        if allowed
        else [
            gcra(t, NOW, r, 0) if v.allowed else v
            for t, r, v in zip(tats, rates, spent, strict=True)
        ]
    )
    assert gcra_all(tats, NOW, rates, cost) == (allowed, tuple(expected))
    minus_one = [-1 if t is None else t for t in tats]
    assert gcra_all(minus_one, NOW, rates, cost) == (allowed, tuple(expected))
