"""Running a scan: set up, run the selected checks in order, and always return a report,
also a partial one when the budget runs out or the scan is interrupted (Ctrl-C)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from bastion import __version__
from bastion.infra import Clock, SystemClock
from bastion.scanner._client import BudgetExhausted, ScanClient
from bastion.scanner._context import ScanContext
from bastion.scanner._model import CheckResult, Report
from bastion.scanner._options import ScanOptions
from bastion.scanner._registry import Check, Findings, NotApplicable, ordered_checks
from bastion.scanner._safety import check_target

__all__ = ["Progress", "plan", "run_scan"]

Progress = Callable[[str, CheckResult | None, int, int], None]


def plan(options: ScanOptions) -> list[Check]:
    """The checks this scan will run, in order."""
    return [c for c in ordered_checks() if options.selects(c.id)]


def _result(spec: Check) -> CheckResult:
    return CheckResult(spec.id, spec.area, spec.title, spec.severity, spec.fix)


async def run_scan(
    options: ScanOptions,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    progress: Progress | None = None,
) -> Report:
    """Scan ``options.target``. Raises :class:`bastion.errors.ScanRefused` before sending
    anything when the target is not allowed; otherwise returns a report (``interrupted``
    when cancelled, ``budget_exhausted`` when the request cap was hit)."""
    target = check_target(options.target, options.allow_hosts)
    clock = clock or SystemClock()
    client = ScanClient(
        target,
        max_requests=options.max_requests,
        rate=options.rate,
        timeout=options.timeout,
        transport=transport,
        clock=clock,
        verify=options.verify_tls,
    )
    ctx = ScanContext(options, client, clock)
    checks = plan(options)
    report = Report(
        target=str(target),
        scanner_version=__version__,
        started_at=clock.now(),
        max_requests=options.max_requests,
        rate=options.rate,
        results=[_result(c) for c in checks],
    )
    notify = progress or (lambda *_: None)
    try:
        await _run_all(ctx, checks, report, notify)
    finally:
        report.requests_sent = client.sent
        report.finished_at = clock.now()
        await client.aclose()
    return report


async def _run_all(ctx: ScanContext, checks: list[Check], report: Report, notify: Progress) -> None:
    try:
        notify("setup", None, 0, len(checks))
        try:
            ctx.cache["setup_notes"] = await ctx.setup()
        except httpx.HTTPError as exc:
            # e.g. an untrusted certificate: the transport checks still report why.
            ctx.cache["setup_notes"] = [f"setup failed ({type(exc).__name__}): no session"]
        for index, (spec, result) in enumerate(zip(checks, report.results, strict=True)):
            notify("start", result, index, len(checks))
            await _run_one(ctx, spec, result, report)
            notify("done", result, index + 1, len(checks))
    except BudgetExhausted:
        report.budget_exhausted = True
        _mark_rest(report, "request budget exhausted")
    except asyncio.CancelledError:
        report.interrupted = True
        _mark_rest(report, "interrupted")
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()


async def _run_one(ctx: ScanContext, spec: Check, result: CheckResult, report: Report) -> None:
    out = Findings(spec, ctx)
    try:
        await spec.run(ctx, out)
    except NotApplicable as exc:
        result.status, result.reason = "skipped", exc.reason
    except httpx.HTTPError as exc:
        result.status, result.reason = "error", f"{type(exc).__name__} while probing"
    else:
        result.status = "failed" if out.items else "passed"
    finally:
        # Findings made before an interruption or the end of the budget still count.
        report.findings.extend(out.items)
        if out.items:
            result.status = "failed"


def _mark_rest(report: Report, reason: str) -> None:
    for result in report.results:
        if result.status == "not-run":
            result.reason = reason
