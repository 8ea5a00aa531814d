"""The Mann-Whitney U test (two-sided), with the standard library only.

Used for timing-based user enumeration: response times for existing and unknown accounts are
two independent samples; the test asks whether one tends to be larger than the other without
assuming normal distributions (network and scheduler noise is long-tailed). For small samples
without ties the exact null distribution of U is used; otherwise the normal approximation
with tie and continuity corrections.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from statistics import median

__all__ = ["mann_whitney_u", "median_difference"]

EXACT_LIMIT = 30


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


@lru_cache(maxsize=64)
def _u_counts(n1: int, n2: int) -> tuple[int, ...]:
    """How many rank arrangements give each U = 0..n1*n2 (no ties)."""
    # table[m][u] for the current n2; built up over n2 with the classic recurrence.
    prev = [[1] for _ in range(n1 + 1)]  # n2 = 0: only U = 0
    for b in range(1, n2 + 1):
        cur: list[list[int]] = [[1]]
        for a in range(1, n1 + 1):
            size = a * b + 1
            row = [0] * size
            for u in range(size):
                left = prev[a][u] if u < len(prev[a]) else 0  # last element from sample 2
                shifted = u - b
                down = cur[a - 1][shifted] if 0 <= shifted < len(cur[a - 1]) else 0
                row[u] = left + down
            cur.append(row)
        prev = cur
    return tuple(prev[n1])


def mann_whitney_u(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """``(U of x, two-sided p-value)``. Raises ``ValueError`` on an empty sample."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one value")
    ranks, ties = _ranks([*x, *y])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    if not ties and n1 <= EXACT_LIMIT and n2 <= EXACT_LIMIT:
        counts = _u_counts(n1, n2)
        total = sum(counts)
        k = round(u1)
        lower = sum(counts[: k + 1]) / total
        upper = sum(counts[k:]) / total
        return u1, min(1.0, 2 * min(lower, upper))
    n = n1 + n2
    mean = n1 * n2 / 2
    tie_term = sum(t**3 - t for t in ties) / (n * (n - 1))
    var = n1 * n2 / 12 * ((n + 1) - tie_term)
    if var <= 0:
        return u1, 1.0
    z = (abs(u1 - mean) - 0.5) / math.sqrt(var)
    return u1, min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))


def median_difference(x: Sequence[float], y: Sequence[float]) -> float:
    return float(median(x) - median(y))
