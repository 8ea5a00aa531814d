"""The outcome of inspecting one value, and how per-detector scores become one.

Verdicts are immutable values, so equal ones are shared: the clean verdict is one object, and a
flagged one is looked up by its kinds and score before a new one is built (a bounded table of
plain values, never a cache of inputs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BLOCK_THRESHOLD", "CLEAN", "Verdict", "verdict"]

BLOCK_THRESHOLD = 5.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one input: ``attack`` when ``score`` reaches :data:`BLOCK_THRESHOLD`.

    ``kinds`` lists every detector that contributed to the score, strongest first, so a
    monitor-mode route can log weak signals that did not block.
    """

    attack: bool
    kinds: tuple[str, ...]
    score: float

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape ``{"attack": bool, "kinds": [...], "score": float}``."""
        return {"attack": self.attack, "kinds": list(self.kinds), "score": self.score}


CLEAN = Verdict(attack=False, kinds=(), score=0.0)

_SHARED: dict[tuple[tuple[str, ...], float], Verdict] = {}
_SHARED_MAX = 4096


def verdict(scores: Mapping[str, float]) -> Verdict:
    """Add the per-detector scores up; ``kinds`` strongest first, ties by name."""
    if len(scores) == 1:
        ((kind, total),) = scores.items()
        kinds: tuple[str, ...] = (kind,) if total > 0 else ()
        total = float(total) if total > 0 else 0.0
    else:
        hits = sorted(((s, k) for k, s in scores.items() if s > 0), key=lambda p: (-p[0], p[1]))
        total = float(sum(s for s, _ in hits))
        kinds = tuple(k for _, k in hits)
    if not kinds:
        return CLEAN
    key = (kinds, total)
    shared = _SHARED.get(key)
    if shared is None:
        shared = Verdict(attack=total >= BLOCK_THRESHOLD, kinds=kinds, score=total)
        if len(_SHARED) < _SHARED_MAX:
            _SHARED[key] = shared
    return shared
