"""The redaction processor: the last line of defence for secrets in logs (ASVS V16.2.5)."""

from __future__ import annotations

from bastion.infra._logging import redact


def test_secret_named_fields_are_masked() -> None:
    event = {
        "event": "x",
        "password": "hunter2-hunter2",
        "Authorization": "Bearer abc",
        "email": "a@b.c",
    }
    out = redact(None, "info", event)
    assert out["password"] == out["Authorization"] == out["email"] == "[redacted]"


def test_token_shaped_values_are_masked() -> None:
    jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"
    out = redact(None, "info", {"event": f"got {jwt}", "detail": "bsr_" + "A" * 43})
    assert jwt not in out["event"] and "A" * 43 not in out["detail"]


def test_ordinary_values_survive() -> None:
    out = redact(None, "info", {"event": "auth.login", "subject": "0123abcd", "outcome": "success"})
    assert out == {"event": "auth.login", "subject": "0123abcd", "outcome": "success"}
