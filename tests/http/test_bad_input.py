"""Bad input at the HTTP edge: every malformed, oversized, mistyped or hostile body gets a
problem+json answer, and none of them creates a user, a session or a register event.

ASVS V15.3.3 (no mass assignment), V2.2.1 (input bounded and validated at the edge, invalid
input never changes stored state), V15.3.5 (strict types), V15.2.2 (bounded body size),
V16.5.1 (no echo), V6.2.1/V6.2.4/V6.2.11/V6.2.12 (password policy at registration).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.http.conftest import (
    PASSWORD,
    assert_nothing_created,
    assert_problem,
    error_fields,
    raw_asgi,
)

REGISTER = "/v1/auth/register"
LOGIN = "/v1/auth/login"
LIMIT = 64 * 1024
JSON = {"content-type": "application/json"}


# -- syntax and shape ------------------------------------------------------------------------


async def test_malformed_json_is_400(client: httpx.AsyncClient, guard: Any) -> None:
    """ASVS V2.2.1: a body that is not JSON is rejected before any handler runs."""
    r = await client.post(REGISTER, content=b'{"username": "bob", "password": ', headers=JSON)
    assert_problem(r, 400, "bad-request")
    await assert_nothing_created(guard)


@pytest.mark.parametrize("body", [b"[]", b'["bob", "violet tractor"]', b'"bob"', b"42", b"null"])
async def test_json_that_is_not_an_object_is_422(
    client: httpx.AsyncClient, guard: Any, body: bytes
) -> None:
    """ASVS V2.2.1, V15.3.5: only a JSON object is accepted as a request body."""
    r = await client.post(REGISTER, content=body, headers=JSON)
    assert_problem(r, 422, "invalid-input")
    await assert_nothing_created(guard)


@pytest.mark.parametrize("extra", [{"is_admin": True}, {"role": "admin"}, {"user_id": "x" * 32}])
async def test_unknown_field_is_422_no_mass_assignment(
    client: httpx.AsyncClient, guard: Any, extra: dict[str, Any]
) -> None:
    """ASVS V15.3.3: an unknown field (e.g. ``is_admin``) is refused, not silently ignored."""
    r = await client.post(REGISTER, json={"username": "mallory", "password": PASSWORD, **extra})
    body = assert_problem(r, 422, "invalid-input")
    assert error_fields(body) == set(extra)
    await assert_nothing_created(guard)


def _case(id: str, fields: set[str], **payload: Any) -> Any:
    return pytest.param({"username": "bob", "password": PASSWORD, **payload}, fields, id=id)


FIELD_CASES = [
    pytest.param({"username": "bob"}, {"password"}, id="missing-password"),
    pytest.param({"password": PASSWORD}, {"username"}, id="missing-username"),
    _case("username-int", {"username"}, username=123),
    _case("username-null", {"username"}, username=None),
    _case("username-list", {"username"}, username=["bob"]),
    _case("password-big-int", {"password"}, password=12345678901234567),
    _case("password-object", {"password"}, password={"plain": PASSWORD}),
    _case("password-bool", {"password"}, password=True),
    _case("username-257-chars", {"username"}, username="u" * 257),
    _case("password-1200-bytes", {"password"}, password="€" * 400),
    _case("email-not-an-address", {"email"}, email="not-an-address"),
    *(
        _case(f"username-{name}", {"username"}, username=value)
        for name, value in [
            ("nul", "bob\x00"), ("newline", "bob\n"), ("rlo-format", "\u202ebob"),
            ("del", "bo\x7fb"), ("zero-width-space", "bob\u200b"), ("leading-space", " bob"),
            ("tab", "bob\t"), ("private-use", "\ue000bob"),
        ]
    ),
]  # fmt: skip


@pytest.mark.parametrize(("payload", "fields"), FIELD_CASES)
async def test_invalid_field_is_422_naming_it(
    client: httpx.AsyncClient, guard: Any, payload: dict[str, Any], fields: set[str]
) -> None:
    """ASVS V2.2.1 (missing, overlong, control/format characters), V15.3.5 (no coercion of
    numbers, bools, objects to strings), V6.2.9 (password bound in UTF-8 bytes: 1200 > 1024)."""
    r = await client.post(REGISTER, json=payload)
    body = assert_problem(r, 422, "invalid-input")
    assert error_fields(body) == fields
    assert all(f in body["detail"] for f in fields)
    await assert_nothing_created(guard)


async def test_bad_login_bodies_open_no_session(client: httpx.AsyncClient, guard: Any) -> None:
    """ASVS V15.3.3: extra fields on login (``amr``, ``scopes``) are refused; no session."""
    user_id = (await guard.identity.register("carol", PASSWORD)).user_id
    for payload in (
        {"username": "carol", "password": PASSWORD, "scopes": ["admin"]},
        {"username": "carol", "password": PASSWORD, "amr": ["otp"]},
        {"username": "carol"},
        {"username": "carol", "password": PASSWORD, "device_id": "short"},
    ):
        assert_problem(await client.post(LOGIN, json=payload), 422, "invalid-input")
    assert await guard.sessions.list(user_id) == []
    assert await guard.audit.tail(100, action="auth.login") == []


# -- size ------------------------------------------------------------------------------------


def _padded(size: int, password: str = PASSWORD) -> bytes:
    """A *valid* register body padded with JSON white space to exactly ``size`` bytes."""
    core = orjson.dumps({"username": "padded", "password": password})
    return core + b" " * (size - len(core))


async def test_body_over_limit_with_content_length_is_413(
    client: httpx.AsyncClient, guard: Any, register_calls: list[Any]
) -> None:
    """ASVS V15.2.2: a body over 64 KiB is refused unparsed; the handler never runs."""
    r = await client.post(REGISTER, content=_padded(LIMIT + 1), headers=JSON)
    assert_problem(r, 413, "payload-too-large")
    assert register_calls == []
    await assert_nothing_created(guard)


async def test_streamed_body_over_limit_without_content_length_is_413(
    client: httpx.AsyncClient, guard: Any, register_calls: list[Any]
) -> None:
    """ASVS V15.2.2: a chunked body with no Content-Length is counted while read and cut."""
    body = _padded(LIMIT + 4096)
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            sent.append(start)
            yield body[start : start + 4096]

    r = await client.post(REGISTER, content=chunks(), headers=JSON)
    assert len(sent) > 1
    assert "content-length" not in r.request.headers
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert_problem(r, 413, "payload-too-large")
    assert register_calls == []
    await assert_nothing_created(guard)


async def test_body_at_the_limit_is_accepted(client: httpx.AsyncClient, guard: Any) -> None:
    """The limit is inclusive: exactly 64 KiB of valid JSON reaches the handler."""
    r = await client.post(REGISTER, content=_padded(LIMIT), headers=JSON)
    assert r.status_code == 201, r.text
    assert [u.username for u in await guard.admin.list()] == ["padded"]


_LYING = _padded(LIMIT + 1)


@pytest.mark.parametrize(
    ("declared", "chunks"),
    [
        pytest.param(b"100", [_LYING[:LIMIT], _LYING[LIMIT:]], id="small-but-lying"),
        pytest.param(str(LIMIT + 1).encode(), [b"{}"], id="declared-over-limit-refused-unread"),
        *(pytest.param(d, [b"{}"], id=d.decode()) for d in (b"-1", b"1e3", b"abc", b" 10", b"0x1")),
    ],
)
async def test_bad_content_length_cannot_bypass_the_limit(
    app: Any, guard: Any, declared: bytes, chunks: list[bytes]
) -> None:
    """ASVS V15.2.2: a lying, too large or non-decimal Content-Length gets 413 (raw ASGI)."""
    headers = [(b"content-type", b"application/json"), (b"content-length", declared)]
    sent = await raw_asgi(app, REGISTER, headers, chunks)
    assert sent[0]["status"] == 413
    await assert_nothing_created(guard)


# -- content type ----------------------------------------------------------------------------


_MEDIA = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
          "application/jsonp", None]  # fmt: skip


@pytest.mark.parametrize("media", _MEDIA, ids=["text", "form", "multipart", "jsonp", "missing"])
async def test_non_json_content_type_is_415(
    client: httpx.AsyncClient, guard: Any, media: str | None
) -> None:
    """ASVS V2.2.1: a JSON body sent under another (or no) media type is refused."""
    body = orjson.dumps({"username": "bob", "password": PASSWORD})
    r = await client.post(REGISTER, content=body, headers={"content-type": media} if media else {})
    assert r.request.headers.get("content-type") == media
    assert_problem(r, 415, "unsupported-media-type")
    await assert_nothing_created(guard)


async def test_json_with_charset_is_accepted(client: httpx.AsyncClient, guard: Any) -> None:
    """``application/json; charset=utf-8`` is JSON."""
    body = orjson.dumps({"username": "dave", "password": PASSWORD})
    media = {"content-type": "application/json; charset=utf-8"}
    r = await client.post(REGISTER, content=body, headers=media)
    assert r.status_code == 201, r.text
    assert [u.username for u in await guard.admin.list()] == ["dave"]


# -- field bounds and characters -------------------------------------------------------------


@pytest.mark.parametrize("field", ["username", "password"])
async def test_lone_surrogate_escape_is_422(
    client: httpx.AsyncClient, guard: Any, field: str
) -> None:
    """ASVS V2.2.1: ``\\ud800`` is valid JSON syntax but not Unicode text; it is refused."""
    values = {"username": '"bob"', "password": f'"{PASSWORD}"'}
    values[field] = '"ab\\ud800cd"'
    raw = f'{{"username": {values["username"]}, "password": {values["password"]}}}'.encode()
    r = await client.post(REGISTER, content=raw, headers=JSON)
    body = assert_problem(r, 422)
    assert error_fields(body) == {field}
    await assert_nothing_created(guard)


async def test_invalid_utf8_bytes_are_422(client: httpx.AsyncClient, guard: Any) -> None:
    """ASVS V2.2.1: raw bytes that are not UTF-8 never reach the JSON parser."""
    raw = b'{"username": "bob\xff\xfe", "password": "' + PASSWORD.encode() + b'"}'
    r = await client.post(REGISTER, content=raw, headers=JSON)
    body = assert_problem(r, 422, "invalid-input")
    assert error_fields(body) == {"body"}
    await assert_nothing_created(guard)


async def test_422_never_echoes_the_submitted_values(client: httpx.AsyncClient, guard: Any) -> None:
    """ASVS V16.5.1: validation problems name fields, never repeat what was sent."""
    secret = "Hunter2-Sup3rSecret-Passphrase"
    username = "LongNameMarker" * 20
    payload = {"username": username, "password": secret + "€" * 400, "note": secret}
    r = await client.post(REGISTER, json=payload)
    body = assert_problem(r, 422, "invalid-input")
    assert error_fields(body) == {"username", "password", "note"}
    assert secret not in r.text
    assert "LongNameMarker" not in r.text
    assert "€" not in r.text and "\\u20ac" not in r.text
    await assert_nothing_created(guard)


# -- password policy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "codes"),
    [("erin", "qwert", {"too_short", "breached"}), ("frank", "frank" * 4, {"contains_identifier"})],
)
async def test_weak_password_lists_every_violation_and_creates_nothing(
    client: httpx.AsyncClient, guard: Any, username: str, password: str, codes: set[str]
) -> None:
    """ASVS V6.2.1 (15-char minimum, single factor), V6.2.4/V6.2.12 (common/breached refused),
    V6.2.11 (context words: built from the username)."""
    r = await client.post(REGISTER, json={"username": username, "password": password})
    body = assert_problem(r, 422, "weak-password")
    assert {e["code"] for e in body["errors"]} == codes
    assert password not in r.text
    assert await guard.admin.list() == []
    [event] = await guard.audit.tail(10, action="auth.register")
    assert (event.outcome, event.reason) == ("failure", "weak_password")


# -- property: no body makes the edge fail open or crash -------------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_json = st.recursive(
    _scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=12
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200) | _json.map(lambda v: json.dumps(v).encode()))
async def test_arbitrary_bodies_never_500_never_create(
    client: httpx.AsyncClient, guard: Any, raw: bytes
) -> None:
    """Property (ASVS V2.2.1): any body yields a 4xx problem and never creates a user."""
    r = await client.post(REGISTER, content=raw, headers=JSON)
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await guard.admin.list() == []
