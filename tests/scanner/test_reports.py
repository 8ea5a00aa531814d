"""Report formats: JSON against the project's published schema, SARIF against the OASIS
SARIF 2.1.0 schema, and the HTML page opened in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from bastion.scanner import (
    CHECKS,
    CheckResult,
    Finding,
    Report,
    Severity,
    report_dict,
    report_schema,
    to_html,
    to_json,
    to_sarif,
)

DATA = Path(__file__).parent / "data"
IN_CI = os.environ.get("CI") == "true"


def sample_report(interrupted: bool = False) -> Report:
    report = Report(
        target="http://127.0.0.1:8080/",
        scanner_version="0.1.0",
        started_at=1_750_000_000.0,
        finished_at=1_750_000_012.5,
        requests_sent=42,
        max_requests=2000,
        rate=50.0,
        interrupted=interrupted,
    )
    specs = sorted(CHECKS.values(), key=lambda c: c.order)
    report.results = [CheckResult(c.id, c.area, c.title, c.severity, c.fix) for c in specs]
    for result, status in zip(
        report.results, ("passed", "failed", "skipped", "error"), strict=False
    ):
        result.status = status
    for severity, spec in zip(Severity, specs, strict=False):
        report.findings.append(
            Finding(
                spec.id,
                spec.title,
                severity,
                f"<script>alert('{severity.label}')</script>",
                spec.fix,
                "http://127.0.0.1:8080/x?a=1&b=2",
            )
        )
    report.findings.append(Finding(specs[0].id, specs[0].title, Severity.HIGH, "two", "fix", "h:1"))
    return report


@pytest.mark.parametrize("interrupted", [False, True])
def test_json_report_matches_the_published_schema(interrupted: bool) -> None:
    document = json.loads(to_json(sample_report(interrupted)))
    validator = jsonschema.Draft202012Validator(
        report_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(document)
    assert document["summary"] == {"info": 1, "low": 1, "medium": 1, "high": 2, "critical": 1}
    assert document["complete"] is not interrupted
    assert [f["severity"] for f in document["findings"]][:3] == ["critical", "high", "high"]


def test_json_schema_rejects_what_it_must() -> None:
    schema = report_schema()
    document = report_dict(sample_report())
    document["findings"][0]["severity"] = "severe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_json_schema_is_package_data() -> None:
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert "scanner/*.json" in pyproject


def test_sarif_report_matches_the_sarif_2_1_0_schema() -> None:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    document = json.loads(to_sarif(sample_report()))
    jsonschema.Draft4Validator(schema).validate(document)
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len(rules) == len(CHECKS)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert {r["level"] for r in run["results"]} == {"error", "warning", "note"}


def test_sarif_schema_catches_a_broken_log() -> None:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    document = json.loads(to_sarif(sample_report()))
    document["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(document)


def test_html_escapes_evidence() -> None:
    page = to_html(sample_report())
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if IN_CI:
            pytest.fail("chromium is missing (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def test_html_report_opens_in_headless_chromium_with_its_summary(tmp_path: Path) -> None:
    browser = _chromium()
    page = tmp_path / "report.html"
    page.write_text(to_html(sample_report()), encoding="utf-8")
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         page.as_uri()],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    dom = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    assert '<section id="summary" data-total="6">' in dom
    for severity, count in (("critical", 1), ("high", 2), ("medium", 1), ("low", 1), ("info", 1)):
        assert f'data-severity="{severity}" data-count="{count}"' in dom
    assert "&lt;script&gt;alert" in dom and "<script>alert" not in dom


def test_docs_list_every_check_with_its_severity() -> None:
    page = (Path(__file__).parents[2] / "docs" / "scan.md").read_text(encoding="utf-8")
    for spec in CHECKS.values():
        assert f"| `{spec.id}` | {spec.severity.label} |" in page, spec.id
