"""Errors become RFC 9457 problems: 404, 405, generic 500, opaque 401s on login and verify.

ASVS V13.4.4 (TRACE refused), V16.5.1 (generic error, no internals), V16.3.4 (crash logged),
V16.3.1/V16.3.2 (failed authentication audited), V6.3.1 (no user oracle on login).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from tests.http.conftest import PASSWORD, assert_problem, boom

LOGIN = "/v1/auth/login"


# -- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/v1/auth/nope"),
        ("POST", "/v1/nope"),
        ("GET", "/docs"),
        ("GET", "/redoc"),
    ],
)
async def test_unknown_route_is_404_problem(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    """ASVS V13.4.5: unknown paths (and the disabled docs UIs) are a plain 404 problem."""
    r = await client.request(method, path, json={} if method == "POST" else None)
    assert_problem(r, 404, "not-found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", LOGIN),
        ("GET", LOGIN),
        ("DELETE", "/v1/auth/register"),
        ("PATCH", "/v1/sessions"),
        ("POST", "/healthz"),
        ("TRACE", "/healthz"),
        ("TRACK", "/healthz"),
        ("TRACE", LOGIN),
        ("TRACE", "/v1/verify"),
        ("TRACE", "/v1/sessions"),
        ("TRACE", "/metrics"),
        ("TRACE", "/.well-known/jwks.json"),
    ],
)
async def test_method_not_in_allow_list_is_405_problem(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    """ASVS V13.4.4 (TRACE/TRACK refused on every route), V3.5.3 (methods are an allow-list)."""
    r = await client.request(method, path)
    assert_problem(r, 405, "method-not-allowed")


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [("PUT", LOGIN, {"POST"}), ("TRACE", "/healthz", {"GET", "HEAD"})],
)
async def test_405_names_the_allowed_methods(
    client: httpx.AsyncClient, method: str, path: str, expected: set[str]
) -> None:
    """RFC 9110 section 15.5.6: a 405 MUST carry ``Allow`` with the methods the route accepts."""
    r = await client.request(method, path)
    assert_problem(r, 405, "method-not-allowed")
    allowed = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
    assert allowed == expected


# -- unexpected exceptions -------------------------------------------------------------------


async def test_unexpected_exception_is_generic_500_problem(
    raw_client: httpx.AsyncClient, guard: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ASVS V16.5.1: a crash is a generic 500 problem with the request id, no internals."""
    monkeypatch.setattr(guard.identity, "login", boom)
    with capture_logs() as logs:
        r = await raw_client.post(LOGIN, json={"username": "bob", "password": PASSWORD})
    assert r.status_code == 500
    assert "http.unhandled" in [e["event"] for e in logs], "ASVS V16.3.4: the crash is logged"
    assert r.headers["content-type"] == "application/problem+json"
    assert "secret-internal-detail" not in r.text
    assert "Traceback" not in r.text and "RuntimeError" not in r.text and ".py" not in r.text
    assert PASSWORD not in r.text
    body = r.json()
    assert body["type"] == "https://bastion.dev/problems/internal"
    assert (body["title"], body["status"]) == ("Internal error", 500)
    assert body["detail"] == "The server could not complete the request."


async def test_500_problem_request_id_matches_the_echoed_header(
    raw_client: httpx.AsyncClient, guard: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ASVS V16.5.1: the generic 500 carries the caller's request id so support can find it."""
    monkeypatch.setattr(guard.identity, "login", boom)
    rid = "support-ticket-0001"
    with capture_logs():
        r = await raw_client.post(
            LOGIN, json={"username": "bob", "password": PASSWORD}, headers={"X-Request-ID": rid}
        )
    assert_problem(r, 500, "internal")
    assert r.headers.get("x-request-id") == rid


async def test_typed_5xx_error_keeps_its_problem_and_retry_after(
    client: httpx.AsyncClient, guard: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ASVS V16.5.2: a backing store outage is a 503 problem with Retry-After, not a crash."""
    from bastion.errors import StorageUnavailable

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise StorageUnavailable

    monkeypatch.setattr(guard.identity, "login", down)
    r = await client.post(LOGIN, json={"username": "bob", "password": PASSWORD})
    assert_problem(r, 503, "storage-unavailable")
    assert r.headers["retry-after"] == "5"


# -- login: no oracle ------------------------------------------------------------------------


def _without_volatile(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("request_id", "instance")}


async def test_wrong_password_and_unknown_user_look_the_same(
    client: httpx.AsyncClient, guard: Any
) -> None:
    """ASVS V6.3.1 / V6.3.8: a wrong password and an unknown user get the same 401 problem."""
    await guard.identity.register("grace", PASSWORD)
    wrong = await client.post(
        LOGIN, json={"username": "grace", "password": "not her passphrase at all"}
    )
    unknown = await client.post(LOGIN, json={"username": "nobody-here", "password": PASSWORD})
    for r in (wrong, unknown):
        assert_problem(r, 401, "invalid-credentials")
    assert _without_volatile(wrong.json()) == _without_volatile(unknown.json())
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]
    assert wrong.json()["request_id"] != unknown.json()["request_id"]
    reasons = sorted(e.reason for e in await guard.audit.tail(10, action="auth.login"))
    assert reasons == ["bad_password", "unknown_user"]


# -- forward auth ----------------------------------------------------------------------------


PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "missing"),
        ("Basic Ym9iOnNlY3JldA==", "missing"),
        ("Bearer", "missing"),
        ("Bearer ", "missing"),
        ("Bearer    ", "missing"),
        ("Bearer " + "a" * 10 * 1024, "missing"),
        ("Bearer not.a.jwt", "malformed"),
        ("Token abc.def.ghi", "missing"),
    ],
    ids=[
        "none",
        "basic",
        "bearer-no-token",
        "bearer-empty",
        "bearer-blank",
        "10kb",
        "garbage",
        "other-scheme",
    ],
)
async def test_verify_refuses_and_audits(
    client: httpx.AsyncClient, guard: Any, authorization: str | None, reason: str
) -> None:
    """ASVS V16.3.2: every forward-auth refusal is a 401 problem with WWW-Authenticate, audited."""
    headers = {"Authorization": authorization} if authorization is not None else {}
    r = await client.get("/v1/verify", headers=headers)
    assert_problem(r, 401, "invalid-token")
    assert r.headers["www-authenticate"].startswith("Bearer ")
    # no identity on a refusal; only the problem type, for proxies that cannot read the body
    assert [h for h in r.headers if h.startswith("x-bastion-")] == ["x-bastion-problem"]
    assert r.headers["x-bastion-problem"] == "invalid-token"
    assert "a" * 64 not in r.text
    [event] = await guard.audit.tail(10, action="verify.denied")
    assert event.outcome == "denied"
    if reason != "missing":
        assert event.reason == reason


async def test_verify_missing_token_reason_is_audited_not_returned(
    client: httpx.AsyncClient, guard: Any
) -> None:
    """House rule 5 / ASVS V16.3.2: the refusal reason goes to the audit event only; the
    401 body is the fixed problem, with no ``reason`` member."""
    r = await client.get("/v1/verify")
    body = assert_problem(r, 401, "invalid-token")
    assert set(body) <= PROBLEM_KEYS, f"verification failure leaks {set(body) - PROBLEM_KEYS}"
    [event] = await guard.audit.tail(10, action="verify.denied")
    assert event.reason == "missing"


async def test_verify_refuses_a_revoked_token_opaquely(
    client: httpx.AsyncClient, guard: Any
) -> None:
    """ASVS V7.4.1 / V16.3.2: after logout the token is refused at once; the 401 does not tell
    a revoked token from a forged one, and the audit event records ``revoked``."""
    await guard.identity.register("ivan", PASSWORD)
    login = await client.post(LOGIN, json={"username": "ivan", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await client.post("/v1/auth/logout", headers=bearer)).status_code == 204
    revoked = await client.get("/v1/verify", headers=bearer)
    forged = await client.get("/v1/verify", headers={"Authorization": "Bearer not.a.jwt"})
    for r in (revoked, forged):
        assert_problem(r, 401, "invalid-token")
    assert _without_volatile(revoked.json()) == _without_volatile(forged.json())
    reasons = [e.reason for e in await guard.audit.tail(10, action="verify.denied")]
    assert reasons == ["revoked", "malformed"]


async def test_verify_allows_a_live_token(client: httpx.AsyncClient, guard: Any) -> None:
    """Control for the refusals above: a real access token gets 200 and the subject headers."""
    done = await guard.identity.register("heidi", PASSWORD)
    login = await client.post(LOGIN, json={"username": "heidi", "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    for method in ("GET", "POST"):
        r = await client.request(method, "/v1/verify", headers={"Authorization": f"bearer {token}"})
        assert r.status_code == 200, r.text
        assert r.headers["x-bastion-subject"] == done.user_id
    assert await guard.audit.tail(10, action="verify.denied") == []


async def test_protected_route_without_token_is_401_audited(
    client: httpx.AsyncClient, guard: Any
) -> None:
    """ASVS V16.3.2: a bearer-protected API route refuses and audits a missing token."""
    r = await client.get("/v1/sessions")
    assert_problem(r, 401, "invalid-token")
    assert "www-authenticate" in r.headers
    [event] = await guard.audit.tail(10, action="auth.token.rejected")
    assert event.outcome == "denied"


async def test_protected_route_missing_token_reason_is_audited_not_returned(
    client: httpx.AsyncClient, guard: Any
) -> None:
    """House rule 5 / ASVS V16.3.2: the same opacity on bearer-protected API routes."""
    r = await client.get("/v1/sessions")
    body = assert_problem(r, 401, "invalid-token")
    assert set(body) <= PROBLEM_KEYS, f"verification failure leaks {set(body) - PROBLEM_KEYS}"
    [event] = await guard.audit.tail(10, action="auth.token.rejected")
    assert event.reason == "missing"
