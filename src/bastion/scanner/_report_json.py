"""The JSON report (documented by ``report.schema.json``, shipped with the package)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from bastion.scanner._model import Report

__all__ = ["SCHEMA_ID", "report_dict", "report_schema", "to_json"]

SCHEMA_ID = "https://bastion.dev/schemas/scan-report-1.json"


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_ID,
        "format_version": 1,
        "scanner": {"name": "bastion-scan", "version": report.scanner_version},
        "target": report.target,
        "started_at": iso(report.started_at),
        "finished_at": iso(report.finished_at or report.started_at),
        "complete": not (report.interrupted or report.budget_exhausted),
        "interrupted": report.interrupted,
        "budget_exhausted": report.budget_exhausted,
        "requests": {
            "sent": report.requests_sent,
            "max": report.max_requests,
            "rate_per_second": report.rate,
        },
        "summary": report.counts(),
        "checks": [r.as_dict() for r in report.results],
        "findings": [f.as_dict() for f in report.sorted_findings()],
    }


def to_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :func:`report_dict`'s output."""
    text = resources.files("bastion.scanner").joinpath("report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
