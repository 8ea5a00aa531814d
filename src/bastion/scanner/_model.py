"""The findings model: severities, findings, per-check results and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = ["CheckResult", "Finding", "Report", "Severity"]


class Severity(IntEnum):
    """Ordered severities; ``--fail-on`` compares with ``>=``."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r}; use one of {names}") from None


@dataclass(frozen=True)
class Finding:
    """One problem found: which check, how bad, what was seen (redacted) and how to fix it."""

    check_id: str
    title: str
    severity: Severity
    evidence: str
    fix: str
    location: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "title": self.title,
            "severity": self.severity.label,
            "evidence": self.evidence,
            "fix": self.fix,
            "location": self.location,
        }


STATUSES = ("passed", "failed", "skipped", "error", "not-run")


@dataclass
class CheckResult:
    """What became of one check: ``passed``, ``failed`` (it has findings), ``skipped`` (not
    applicable, with the reason), ``error`` (the probe itself broke) or ``not-run`` (budget
    spent or interrupted first)."""

    check_id: str
    area: str
    title: str
    severity: Severity
    fix: str
    status: str = "not-run"
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.check_id,
            "area": self.area,
            "title": self.title,
            "severity": self.severity.label,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass
class Report:
    """A whole scan, complete or partial (``interrupted`` or ``budget_exhausted``)."""

    target: str
    scanner_version: str
    started_at: float
    finished_at: float = 0.0
    requests_sent: int = 0
    max_requests: int = 0
    rate: float = 0.0
    interrupted: bool = False
    budget_exhausted: bool = False
    results: list[CheckResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {s.label: 0 for s in Severity}
        for finding in self.findings:
            counts[finding.severity.label] += 1
        return counts

    def at_or_above(self, level: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity >= level]

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (-f.severity, f.check_id, f.location))
