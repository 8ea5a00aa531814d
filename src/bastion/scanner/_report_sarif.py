"""SARIF 2.1.0 output for code-scanning dashboards: one rule per check that ran, one result
per finding, with ``security-severity`` so dashboards rank them."""

from __future__ import annotations

import json
from typing import Any

from bastion.scanner._model import Report, Severity
from bastion.scanner._report_json import iso

__all__ = ["to_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SCORE = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def sarif_dict(report: Report) -> dict[str, Any]:
    rules = [
        {
            "id": r.check_id,
            "name": r.check_id.replace(".", "/"),
            "shortDescription": {"text": r.title},
            "help": {"text": r.fix},
            "defaultConfiguration": {"level": _LEVEL[r.severity]},
            "properties": {
                "security-severity": _SCORE[r.severity],
                "tags": ["security", r.area],
            },
        }
        for r in report.results
    ]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = [
        {
            "ruleId": f.check_id,
            "ruleIndex": index[f.check_id],
            "level": _LEVEL[f.severity],
            "message": {"text": f"{f.title}: {f.evidence}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.location}}}],
            "properties": {"severity": f.severity.label, "security-severity": _SCORE[f.severity]},
        }
        for f in report.sorted_findings()
    ]
    invocation = {
        "executionSuccessful": not (report.interrupted or report.budget_exhausted),
        "startTimeUtc": iso(report.started_at),
        "endTimeUtc": iso(report.finished_at or report.started_at),
    }
    tool = {"driver": {"name": "bastion-scan", "version": report.scanner_version, "rules": rules}}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": tool,
                "invocations": [invocation],
                "results": results,
                "properties": {"target": report.target, "requests": report.requests_sent},
            }
        ],
    }


def to_sarif(report: Report) -> str:
    return json.dumps(sarif_dict(report), indent=2) + "\n"
