"""The scanner against the deliberately vulnerable app: every planted flaw is found by its
check, and nothing fires when every flaw is switched off (ASVS V3.4, V6.3, V7.4, V9.1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bastion.scanner import CHECKS, Report, ScanOptions, run_scan
from tests.scanner.vulnerable_app import EXPOSED, VulnerableApp, signed_order
from tests.vectors import vector_path

pytestmark = pytest.mark.timeout(120)

GROUPS: dict[str, set[str]] = {
    "surface": {
        "headers.csp", "headers.nosniff", "headers.frame", "headers.referrer-policy",
        "headers.server-banner", "cors.reflected-origin", "http.trace", "cookie.secure",
        "cookie.httponly", "cookie.samesite", "cookie.host-prefix", *EXPOSED,
        "errors.stack-trace", "errors.debug-page", "errors.sql-error", "errors.internal-path",
    },
    "tokens": {
        "token.alg-none", "token.signature-stripped", "token.claims-altered",
        "token.alg-confusion", "token.kid-injection", "token.jku-injection",
        "token.revocation", "token.refresh-reuse", "auth.logout", "auth.session-fixation",
    },
    "lifetimes": {"token.expired-accepted", "token.not-yet-valid-accepted"},
    "weak-secret": {"token.weak-secret"},
    "auth": {
        "auth.weak-password", "auth.enumeration-response", "auth.enumeration-timing",
        "auth.no-throttling", "ratelimit.login", "ratelimit.endpoint",
    },
    "abuse": {
        "inject.xss", "inject.sql-error", "redirect.open", "replay.signed",
        "cors.wildcard-credentials",
    },
}  # fmt: skip
HTTPS_ONLY = {
    "transport.plain-http", "transport.https-redirect", "transport.hsts",
    "transport.tls-version", "transport.certificate",
}  # fmt: skip


def options(url: str, app: VulnerableApp, tmp: Path, **extra: Any) -> ScanOptions:
    replay = tmp / "order.json"
    replay.write_text(json.dumps(signed_order()))
    defaults: dict[str, Any] = {
        "rate": 400.0,
        "xss_params": ("/search?q",),
        "sqli_params": ("/search?q",),
        "redirect_params": ("/go?next",),
        "rate_limit_paths": ("/search",),
        "replay_file": str(replay),
        "signing_key": app.tokens.private_pem,
    }
    return ScanOptions(target=url, **(defaults | extra))


def found(report: Report) -> set[str]:
    return {f.check_id for f in report.findings}


def test_every_check_has_a_planted_flaw_or_needs_https() -> None:
    planted = set().union(*GROUPS.values())
    assert planted | HTTPS_ONLY == set(CHECKS)


async def test_no_check_fires_without_flaws(vulnerable: Callable[..., Any], tmp_path: Path) -> None:
    with vulnerable() as (url, app):
        report = await run_scan(options(url, app, tmp_path))
    assert [f.as_dict() for f in report.findings] == []
    statuses = {r.check_id: r.status for r in report.results}
    errors = {k: v for k, v in statuses.items() if v in ("error", "not-run")}
    assert errors == {}
    skipped = {k for k, v in statuses.items() if v == "skipped"}
    assert skipped == HTTPS_ONLY | {"token.weak-secret"}


@pytest.mark.parametrize("group", sorted(GROUPS))
async def test_each_planted_flaw_is_found_by_its_check(
    group: str, vulnerable: Callable[..., Any], tmp_path: Path
) -> None:
    flaws = GROUPS[group]
    extra: dict[str, Any] = {"only": tuple(sorted(flaws))}
    if group == "weak-secret":
        extra["jwt_wordlist"] = str(vector_path("jwt/weak_jwt_secrets_wallarm.txt"))
    with vulnerable(flaws) as (url, app):
        report = await run_scan(options(url, app, tmp_path, **extra))
    assert found(report) == flaws, [f.as_dict() for f in report.findings]
