"""A self-contained HTML report: a severity summary chart (inline SVG), the findings and the
checks. No scripts, no external resources; every value is HTML-escaped."""

from __future__ import annotations

from html import escape

from bastion.scanner._model import Report, Severity
from bastion.scanner._report_json import iso

__all__ = ["to_html"]

COLORS = {
    "critical": "#7b1fa2",
    "high": "#c62828",
    "medium": "#ef6c00",
    "low": "#f9a825",
    "info": "#1565c0",
}
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} code{white-space:pre-wrap;word-break:break-all}
.sev{color:#fff;border-radius:3px;padding:0 .4rem;font-weight:600}
"""


def _chart(counts: dict[str, int]) -> str:
    top = max(1, *counts.values())
    bars = []
    for i, sev in enumerate(reversed([s.label for s in Severity])):
        width = round(300 * counts[sev] / top)
        y = 10 + i * 28
        bars.append(
            f'<text x="0" y="{y + 15}">{sev}</text>'
            f'<rect data-severity="{sev}" data-count="{counts[sev]}" x="80" y="{y}" '
            f'width="{width}" height="20" fill="{COLORS[sev]}"/>'
            f'<text x="{86 + width}" y="{y + 15}">{counts[sev]}</text>'
        )
    return (
        '<svg id="severity-chart" role="img" aria-label="findings by severity" width="440" '
        f'height="160" xmlns="http://www.w3.org/2000/svg">{"".join(bars)}</svg>'
    )


def _badge(label: str) -> str:
    return f'<span class="sev" style="background:{COLORS[label]}">{escape(label)}</span>'


def to_html(report: Report) -> str:
    counts = report.counts()
    state = (
        "interrupted"
        if report.interrupted
        else ("stopped: request budget exhausted" if report.budget_exhausted else "complete")
    )
    summary_rows = "".join(
        f'<tr data-severity="{s}"><td>{_badge(s)}</td><td>{counts[s]}</td></tr>'
        for s in reversed([x.label for x in Severity])
    )
    findings = (
        "".join(
            f"<tr><td>{_badge(f.severity.label)}</td><td><code>{escape(f.check_id)}</code><br>"
            f"{escape(f.title)}</td><td><code>{escape(f.evidence)}</code><br>"
            f"<small>{escape(f.location)}</small></td><td>{escape(f.fix)}</td></tr>"
            for f in report.sorted_findings()
        )
        or '<tr><td colspan="4">No findings.</td></tr>'
    )
    checks = "".join(
        f"<tr><td><code>{escape(r.check_id)}</code></td><td>{escape(r.status)}</td>"
        f"<td>{escape(r.reason)}</td></tr>"
        for r in report.results
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>bastion scan: {escape(report.target)}</title><style>{STYLE}</style></head>
<body>
<h1>bastion scan report</h1>
<p>Target <code>{escape(report.target)}</code>, {escape(iso(report.started_at))} to
{escape(iso(report.finished_at or report.started_at))}, {report.requests_sent} requests
(cap {report.max_requests}), scan {escape(state)}.</p>
<section id="summary" data-total="{len(report.findings)}">
<h2>Summary</h2>
{_chart(counts)}
<table><thead><tr><th>severity</th><th>findings</th></tr></thead><tbody>{summary_rows}</tbody>
</table></section>
<section id="findings"><h2>Findings</h2>
<table><thead><tr><th>severity</th><th>check</th><th>evidence</th><th>fix</th></tr></thead>
<tbody>{findings}</tbody></table></section>
<section id="checks"><h2>Checks</h2>
<table><thead><tr><th>check</th><th>status</th><th>note</th></tr></thead>
<tbody>{checks}</tbody></table></section>
</body></html>
"""
