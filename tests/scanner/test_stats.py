"""The Mann-Whitney U test used for timing enumeration."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.scanner._stats import _u_counts, mann_whitney_u


def test_exact_distribution_counts_every_arrangement() -> None:
    for n1, n2 in ((1, 1), (3, 2), (5, 7), (12, 12)):
        assert sum(_u_counts(n1, n2)) == math.comb(n1 + n2, n1)


def test_known_values() -> None:
    assert mann_whitney_u([1, 2, 3], [4, 5, 6]) == (0.0, pytest.approx(0.1))
    # Complete separation of 12 vs 12: p = 2 / C(24, 12).
    _, p = mann_whitney_u(range(12), range(100, 112))
    assert p == pytest.approx(2 / math.comb(24, 12))


def test_ties_use_the_corrected_normal_approximation() -> None:
    u, p = mann_whitney_u([1, 1, 2, 2, 3], [3, 4, 4, 5, 5])
    assert u == 0.5 and 0.01 < p < 0.02


@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=15),
    st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=15),
)
def test_symmetric_and_a_probability(x: list[float], y: list[float]) -> None:
    u1, p1 = mann_whitney_u(x, y)
    u2, p2 = mann_whitney_u(y, x)
    assert u1 + u2 == pytest.approx(len(x) * len(y))
    assert 0 <= p1 <= 1 and p1 == pytest.approx(p2)


def test_false_positive_rate_on_identical_noise_is_low() -> None:
    rng = random.Random(7)
    fired = 0
    for _ in range(2000):
        a = [rng.lognormvariate(-3.5, 0.6) for _ in range(12)]
        b = [rng.lognormvariate(-3.5, 0.6) for _ in range(12)]
        fired += mann_whitney_u(a, b)[1] < 0.001
    assert fired <= 10  # alpha = 0.001: about 2 expected in 2000


def test_empty_sample_is_an_error() -> None:
    with pytest.raises(ValueError):
        mann_whitney_u([], [1.0])
