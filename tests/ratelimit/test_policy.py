"""Policies validate at construction, match routes that cannot be dodged by path tricks, and
key requests without storing raw identifiers (ASVS V2.4.1, V11.1.4)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bastion.ratelimit import Match, Policy, RequestFacts
from bastion.ratelimit._policy import compile_policy, normal_path


def _policy(**fields: object) -> Policy:
    return Policy.model_validate({"name": "p", "limits": ["10/s"], **fields})


def test_on_backend_error_defaults_to_deny_under_auth_and_local_elsewhere() -> None:
    assert _policy(match={"path": "/v1/auth/*"}).on_backend_error == "deny"
    assert _policy(match=Match(path="/v1/auth/login")).on_backend_error == "deny"
    assert _policy(match={"path": "/v1/items/*"}).on_backend_error == "local"
    assert _policy().on_backend_error == "local"
    assert _policy(match={"path": "/v1/auth/*"}, on_backend_error="local").on_backend_error == (
        "local"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"limits": ["10/fortnight"]},
        {"limits": []},
        {"key": "cookie"},
        {"key": "header:bad name"},
        {"cost": 0},
        {"cost": 11},
        {"match": {"path": "v1/*"}},
        {"match": {"methods": ["FETCH"]}},
        {"on_backend_error": "open"},
        {"unknown": 1},
        {"name": "Bad Name"},
    ],
)
def test_invalid_policies_are_rejected_at_construction(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _policy(**fields)


def test_bad_rate_error_names_the_text() -> None:
    with pytest.raises(ValidationError, match="10/fortnight"):
        _policy(limits=["10/fortnight"])


@pytest.mark.parametrize(
    ("method", "path", "hit"),
    [
        ("POST", "/v1/auth/login", True),
        ("post", "/v1/auth/login", True),
        ("POST", "/v1//auth/login", True),
        ("POST", "/v1/x/../auth/login", True),
        ("POST", "/v1/auth/./mfa/verify", True),
        ("GET", "/v1/auth/login", False),
        ("POST", "/v1/authz", False),
        ("POST", "/v2/auth/login", False),
    ],
)
def test_matching_by_glob_and_method_survives_path_tricks(
    method: str, path: str, hit: bool
) -> None:
    compiled = compile_policy(_policy(match={"path": "/v1/auth/*", "methods": ["post"]}))
    assert compiled.matches(method, normal_path(path)) is hit


def test_normal_path_keeps_a_trailing_slash() -> None:
    assert normal_path("/a//b/") == "/a/b/"
    assert normal_path("/../..") == "/"


def _key(kind: str, **facts: object) -> str:
    base: dict[str, object] = {"method": "GET", "path": "/", "ip": "203.0.113.7"}
    return compile_policy(_policy(key=kind)).key_for(RequestFacts(**{**base, **facts}))  # type: ignore[arg-type]


def test_subnet_keys_group_ipv4_by_24_and_ipv6_by_64() -> None:
    assert _key("subnet") == _key("subnet", ip="203.0.113.200")
    assert _key("subnet") != _key("subnet", ip="203.0.114.7")
    assert _key("subnet", ip="2001:db8::1") == _key("subnet", ip="2001:db8::ffff:1")
    assert _key("subnet", ip="2001:db8::1") != _key("subnet", ip="2001:db8:0:1::1")
    assert _key("subnet", ip="::ffff:203.0.113.9") == _key("subnet")
    assert _key("subnet", ip="testclient")  # not an address: keyed as given


def test_user_session_apikey_and_header_keys_fall_back_to_the_ip() -> None:
    for kind in ("user", "session", "apikey", "header:X-Tenant"):
        assert _key(kind) == _key("ip")
    assert _key("user", user="u1") != _key("user", user="u2")
    assert _key("header:X-Tenant", headers={"x-tenant": "a"}) != _key("ip")
    assert _key("apikey", apikey="bk_1") == _key("apikey", apikey="bk_1", ip="198.51.100.1")


def test_keys_hold_no_raw_identifier() -> None:
    key = _key("user", user="alice@example.com")
    assert "alice" not in key and "203.0.113" not in _key("ip")


def test_policy_header_lists_every_limit() -> None:
    compiled = compile_policy(_policy(limits=["10/s", "1000/h"]))
    assert compiled.policy_header == '"p.1";q=10;w=1, "p.2";q=1000;w=3600'
    assert compile_policy(_policy()).policy_header == '"p";q=10;w=1'
