"""Output of ``bastion scan``: the banner (what the scan will do) and the report in the
chosen format (a rich table on the terminal, or JSON/SARIF/HTML to a file or stdout)."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from bastion.cli._common import console, err_console
from bastion.scanner import Check, Report, ScanOptions, to_html, to_json, to_sarif

__all__ = ["banner", "write_report"]

_STYLE = {"critical": "bold magenta", "high": "bold red", "medium": "yellow", "low": "cyan",
          "info": "blue"}  # fmt: skip


def banner(options: ScanOptions, checks: list[Check]) -> None:
    """Say plainly what the scan will do before it sends anything."""
    lines = [
        f"[bold]bastion scan[/bold] {options.target}: {len(checks)} checks, at most "
        f"{options.max_requests} requests at {options.rate:g}/s.",
        "It sends crafted tokens, malformed requests, failed logins "
        f"(up to {options.login_attempts} in a row for one account) and bursts of up to "
        f"{options.rate_limit_requests} requests; it logs out the sessions it creates.",
        "It registers up to 3 test accounts with random names (bscan...); use --no-register "
        "to skip."
        if options.register
        else "It creates no accounts (--no-register).",
        "It never deletes anything. Stop it with Ctrl-C: the partial report is still written.",
    ]
    for line in lines:
        err_console.print(line)


def _table(report: Report) -> None:
    counts = report.counts()
    summary = ", ".join(f"{n} {sev}" for sev, n in reversed(counts.items()) if n)
    table = Table(title=f"bastion scan {report.target}: {summary or 'no findings'}")
    for column in ("severity", "check", "evidence", "fix"):
        table.add_column(column, overflow="fold")
    for f in report.sorted_findings():
        label = f.severity.label
        table.add_row(f"[{_STYLE[label]}]{label}[/]", f.check_id, f.evidence, f.fix)
    console.print(table, markup=True)
    skipped = [r for r in report.results if r.status in ("skipped", "error", "not-run")]
    for r in skipped:
        console.print(f"  {r.status:8} {r.check_id}: {r.reason}", markup=False, highlight=False)
    state = (
        "INTERRUPTED"
        if report.interrupted
        else ("STOPPED (request budget exhausted)" if report.budget_exhausted else "complete")
    )
    console.print(f"{report.requests_sent} requests, scan {state}.", markup=False)


def write_report(report: Report, fmt: str, output: Path | None) -> None:
    if fmt == "table" and output is None:
        _table(report)
        return
    render = {"json": to_json, "sarif": to_sarif, "html": to_html, "table": to_json}[fmt]
    text = render(report)
    if output is None:
        console.file.write(text)
        console.file.flush()
    else:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"report written to {output}")
