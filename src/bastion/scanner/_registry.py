"""The check registry: each check has an id, an area, a severity, a fix, an order, and an
async function that adds findings or raises :class:`NotApplicable`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bastion.scanner._model import Finding, Severity

if TYPE_CHECKING:
    from bastion.scanner._context import ScanContext

__all__ = ["CHECKS", "Check", "Findings", "NotApplicable", "check"]


class NotApplicable(Exception):
    """The check cannot run against this target (the reason is reported)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Findings:
    """Collects the findings of one check; evidence is redacted on the way in."""

    def __init__(self, spec: Check, ctx: ScanContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.items: list[Finding] = []

    def add(self, evidence: str, location: str = "", severity: Severity | None = None) -> None:
        self.items.append(
            Finding(
                check_id=self.spec.id,
                title=self.spec.title,
                severity=self.spec.severity if severity is None else severity,
                evidence=self.ctx.redact(evidence),
                fix=self.spec.fix,
                location=location or self.ctx.options.target,
            )
        )


Runner = Callable[["ScanContext", Findings], Awaitable[None]]


@dataclass(frozen=True)
class Check:
    id: str
    area: str
    title: str
    severity: Severity
    fix: str
    order: int
    run: Runner


CHECKS: dict[str, Check] = {}


def check(
    id: str, *, area: str, title: str, severity: Severity, fix: str, order: int
) -> Callable[[Runner], Runner]:
    """Register a check. Ids are unique; ``order`` puts checks that consume the target's
    patience (failed logins, bursts) after the ones that need a working session."""

    def register(run: Runner) -> Runner:
        if id in CHECKS:
            raise ValueError(f"duplicate check id {id}")
        CHECKS[id] = Check(id, area, title, severity, fix, order, run)
        return run

    return register


def ordered_checks() -> list[Check]:
    return sorted(CHECKS.values(), key=lambda c: c.order)
