"""Safety rules: only loopback targets or hosts the user names; secrets never in evidence;
the central budget, rate and host lock of the scan client."""

from __future__ import annotations

import httpx
import pytest

from bastion.errors import ScanRefused
from bastion.infra import ManualClock
from bastion.scanner import BudgetExhausted, check_target
from bastion.scanner._client import ScanClient
from bastion.scanner._safety import Redactor


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost", "https://[::1]:8443/x", "http://127.9.9.9"]
)
def test_loopback_targets_are_allowed(url: str) -> None:
    assert check_target(url).host


@pytest.mark.parametrize(
    "url",
    [
        "https://staging.example.com",
        "http://10.0.0.5",
        "http://169.254.169.254/latest",
        "ftp://127.0.0.1",
        "http://user:pw@127.0.0.1",
        "http://localhost.example.com",
        "not a url",
    ],
)
def test_other_targets_are_refused(url: str) -> None:
    with pytest.raises(ScanRefused):
        check_target(url)


def test_allow_host_is_exact() -> None:
    assert check_target("https://Staging.Example.com/", ["staging.example.com"])
    with pytest.raises(ScanRefused):
        check_target("https://api.staging.example.com", ["staging.example.com"])


def test_redactor_removes_known_secrets_and_token_shapes() -> None:
    redact = Redactor()
    redact.add("hunter2-password")
    text = redact("pw hunter2-password tok eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln Bearer abcdefghijkl")
    assert "hunter2" not in text and "eyJzdWIi" not in text and "abcdefghijkl" not in text


def _client(
    handler: httpx.MockTransport, clock: ManualClock, slept: list[float], **kw: float
) -> ScanClient:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    options = {"max_requests": 5, "rate": 10.0} | kw
    return ScanClient(
        httpx.URL("http://127.0.0.1:9"), transport=handler, clock=clock, sleep=sleep,
        max_requests=int(options["max_requests"]), rate=options["rate"],
    )  # fmt: skip


async def test_budget_is_a_hard_cap_and_rate_spaces_requests() -> None:
    calls: list[str] = []
    transport = httpx.MockTransport(lambda r: calls.append(r.url.path) or httpx.Response(200))
    clock, slept = ManualClock(), []
    client = _client(transport, clock, slept)
    for _ in range(5):
        await client.send("GET", "/")
    with pytest.raises(BudgetExhausted):
        await client.send("GET", "/")
    assert len(calls) == 5 and client.sent == 5
    assert slept == pytest.approx([0.1] * 4)  # 10 per second


async def test_requests_leave_only_for_the_target() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200))
    client = _client(transport, ManualClock(), [])
    with pytest.raises(ValueError):
        await client.send("GET", "http://169.254.169.254/")
    assert client.sent == 0


async def test_short_retry_after_is_waited_out_unless_probing_for_it() -> None:
    answers = iter([429, 200, 429])
    transport = httpx.MockTransport(
        lambda r: httpx.Response(next(answers), headers={"retry-after": "1"})
    )
    clock, slept = ManualClock(), []
    client = _client(transport, clock, slept)
    assert (await client.send("GET", "/")).status == 200
    assert (await client.send("GET", "/", retry_throttled=False)).status == 429
    assert client.sent == 3 and 1.0 in slept


async def test_no_redirect_is_followed() -> None:
    transport = httpx.MockTransport(
        lambda r: httpx.Response(302, headers={"location": "https://elsewhere.example/"})
    )
    client = _client(transport, ManualClock(), [])
    assert (await client.send("GET", "/")).status == 302
    assert client.sent == 1
