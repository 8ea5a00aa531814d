"""User enumeration at login, by answer and by timing.

Samples: failed logins for an existing account (wrong password) and for unknown random
usernames, interleaved in ABBA order so slow drifts hit both groups alike. The existing
account logs in successfully after every few failures, so a per-account delay never starts.

Timing decision: a two-sided Mann-Whitney U test on the response times; the check fires when
``p < 0.001`` *and* the medians differ by at least 10 ms. With 12 samples per group the test
cannot reach 0.001 unless nearly every sample of one group is slower than every sample of
the other, which keeps false positives rare on a noisy network; a 10 ms floor ignores
differences too small to exploit with a bounded number of requests.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from bastion.scanner._checks_auth import throttled
from bastion.scanner._client import Probe
from bastion.scanner._context import ScanContext, random_username
from bastion.scanner._model import Severity
from bastion.scanner._registry import Findings, NotApplicable, check
from bastion.scanner._stats import mann_whitney_u, median_difference

__all__ = ["ALPHA", "MIN_EFFECT_SECONDS"]

AREA = "auth"
ALPHA = 0.001
MIN_EFFECT_SECONDS = 0.010
FAILURES_BEFORE_RESET = 3
_VOLATILE = {"request_id", "requestid", "trace_id", "instance", "timestamp", "time", "id"}


@dataclass
class Samples:
    present: list[Probe] = field(default_factory=list)
    absent: list[Probe] = field(default_factory=list)


async def _collect(ctx: ScanContext) -> Samples:
    account = ctx.test_account or ctx.primary
    if account is None:
        raise NotApplicable("needs an existing account: --user and --password-env, or registration")
    samples = Samples()
    failures = 0
    for i in range(2 * max(4, ctx.options.timing_samples)):
        present_turn = i % 4 in (0, 3)  # ABBA
        if present_turn and failures >= FAILURES_BEFORE_RESET:
            await ctx.login(account.username, account.password)  # resets per-account delays
            failures = 0
        username = account.username if present_turn else random_username()
        probe = await ctx.login(username, "Wrong-" + secrets.token_hex(8))
        if throttled(probe.status, probe.text):
            continue
        if 200 <= probe.status < 300:
            raise NotApplicable("a wrong password was accepted")
        (samples.present if present_turn else samples.absent).append(probe)
        failures += present_turn
    return samples


async def _samples(ctx: ScanContext) -> Samples:
    async def make() -> Samples:
        return await _collect(ctx)

    samples: Samples = await ctx.cached("enumeration", make)
    return samples


def _shape(probe: Probe) -> Any:
    body = probe.json()
    if isinstance(body, dict):
        return probe.status, {k: v for k, v in body.items() if k.lower() not in _VOLATILE}
    return probe.status, probe.text.strip()[:500]


@check(
    "auth.enumeration-response",
    area=AREA,
    title="Login answer tells whether an account exists",
    severity=Severity.MEDIUM,
    fix="Answer a wrong password and an unknown user with the same status and body.",
    order=85,
)
async def by_response(ctx: ScanContext, out: Findings) -> None:
    samples = await _samples(ctx)
    if not samples.present or not samples.absent:
        raise NotApplicable("every login attempt was throttled")
    known, unknown = _shape(samples.present[0]), _shape(samples.absent[0])
    if known != unknown:
        out.add(f"existing account: {known}; unknown account: {unknown}", samples.present[0].url)


@check(
    "auth.enumeration-timing",
    area=AREA,
    title="Login time tells whether an account exists",
    severity=Severity.MEDIUM,
    fix="Do the same work for unknown users (verify against a decoy hash) and wrong "
    "passwords; keep slow steps off one branch only.",
    order=86,
)
async def by_timing(ctx: ScanContext, out: Findings) -> None:
    samples = await _samples(ctx)
    present = [p.elapsed for p in samples.present]
    absent = [p.elapsed for p in samples.absent]
    if min(len(present), len(absent)) < 6:
        raise NotApplicable("too few unthrottled login samples for a timing test")
    _, p_value = mann_whitney_u(present, absent)
    diff = median_difference(present, absent)
    if p_value < ALPHA and abs(diff) >= MIN_EFFECT_SECONDS:
        out.add(
            f"median login time differs by {diff * 1000:+.1f} ms for existing accounts "
            f"(Mann-Whitney p={p_value:.2g}, n={len(present)}/{len(absent)})",
            samples.present[0].url,
        )
