"""``bastion vault``: values on stdin only, put/get/lookup/delete/erase, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    import structlog

    yield None
    structlog.reset_defaults()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"BASTION_DATA_DIR": str(tmp_path / "d"), "BASTION_CONFIG": "", "BASTION_MASTER_KEY": ""}


def run(env: dict[str, str], *args: str, stdin: str | bytes | None = None) -> tuple[int, str]:
    """Exit code and stdout (what a script would capture)."""
    result = CliRunner().invoke(app, list(args), env=env, input=stdin)
    return result.exit_code, result.stdout


def run_all(env: dict[str, str], *args: str, stdin: str | bytes | None = None) -> tuple[int, str]:
    """Exit code and everything printed, stderr included."""
    result = CliRunner().invoke(app, list(args), env=env, input=stdin)
    return result.exit_code, result.output


def test_vault_life_cycle(env: dict[str, str]) -> None:
    code, out = run(env, "vault", "put", "user-1", "phone", stdin="+86 138 0013 8000\n")
    assert code == 0 and "version 1" in out and "138" not in out
    code, out = run(env, "vault", "get", "user-1", "phone")
    assert (code, out) == (0, "+86 138 0013 8000\n")
    code, out = run(env, "vault", "lookup", "phone", stdin="13800138000")
    assert (code, out) == (0, "user-1\n")
    assert run(env, "vault", "reindex") == (0, "0 blind indexes changed\n")
    code, out = run(env, "vault", "delete", "user-1", "phone")
    assert code == 0 and "deleted" in out
    code, out = run_all(env, "vault", "get", "user-1", "phone")
    assert code == 1 and "No such vault entry" in out


def test_only_one_trailing_newline_is_dropped(env: dict[str, str]) -> None:
    run(env, "vault", "put", "u1", "note", stdin="line one\nline two\r\n")
    assert run(env, "vault", "get", "u1", "note") == (0, "line one\nline two\n")


def test_erase_needs_confirmation_then_shreds(env: dict[str, str]) -> None:
    run(env, "vault", "put", "u1", "phone", stdin="13800138000")
    code, out = run_all(env, "vault", "erase", "u1")
    assert code == 2 and "--yes" in out
    assert run(env, "vault", "get", "u1", "phone")[0] == 0
    code, out = run(env, "vault", "erase", "u1", "--yes")
    assert code == 0 and "1 fields removed" in out
    code, out = run_all(env, "vault", "put", "u1", "phone", stdin="13800138000")
    assert code == 1 and "erased" in out
    code, out = run(env, "vault", "lookup", "phone", stdin="13800138000")
    assert (code, out) == (0, "")


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["put", "u1", "phone"], "call me", "not a phone number"),
        (["put", "u1", "Bad-Field"], "x", "field name must match"),
        (["put", "u1", "note"], "x" * 4097, "at most 4096 bytes"),
        (["put", "u1", "note"], b"\xff\xfe", "not UTF-8"),
        (["put", "u1", "note"], "x" * 70000, "too large"),
        (["lookup", "address"], "x", "not configured for lookup"),
    ],
)
def test_refusals_are_explained(
    env: dict[str, str], args: list[str], stdin: str | bytes, says: str
) -> None:
    code, out = run_all(env, "vault", *args, stdin=stdin)
    assert code in (1, 2) and says in out
    assert "call me" not in out


def test_values_are_never_arguments() -> None:
    result = CliRunner().invoke(app, ["vault", "put", "--help"])
    assert result.exit_code == 0 and "stdin" in result.output
    code = CliRunner().invoke(app, ["vault", "put", "u1", "phone", "+8613800138000"]).exit_code
    assert code == 2
