"""The command line, run in process with Typer's runner against a real SQLite data dir."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app

PASSWORD = "violet tractor hums at dawn"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "BASTION_DATA_DIR": str(tmp_path / "data"),
        "BASTION_CONFIG": "",
        "BASTION_MASTER_KEY": "",
    }


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env, input=stdin)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["init"],
        ["db", "upgrade"],
        ["users", "create"],
        ["users", "list"],
        ["users", "lock"],
        ["users", "unlock"],
        ["users", "delete"],
        ["keys", "rotate-signing"],
        ["audit", "verify"],
        ["audit", "tail"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output and len(result.output) > 200


def test_init_creates_private_key_and_schema(env: dict[str, str], tmp_path: Path) -> None:
    code, out = run(env, "init", "--write-config", str(tmp_path / "bastion.toml"))
    assert code == 0, out
    key = tmp_path / "data" / "master.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "bastion.toml").read_text().startswith("# Bastion settings")
    code, out = run(env, "db", "upgrade")
    assert code == 0 and "revision" in out


def test_user_lifecycle(env: dict[str, str]) -> None:
    code, out = run(
        env, "users", "create", "root", "--admin", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 0, out
    code, out = run(env, "users", "create", "root", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 1 and "taken" in out
    code, out = run(env, "users", "list")
    assert code == 0 and "root" in out and "yes" in out
    assert run(env, "users", "lock", "root")[0] == 0
    assert run(env, "users", "unlock", "root")[0] == 0
    assert run(env, "users", "delete", "root", "--yes")[0] == 0
    code, out = run(env, "users", "lock", "root")
    assert code == 1 and "No such user" in out


def test_weak_password_is_explained(env: dict[str, str]) -> None:
    code, out = run(env, "users", "create", "bob", "--password-stdin", stdin="password\n")
    assert code == 1
    assert "at least 15" in out and "breached" in out.lower()


def test_rotate_signing_key(env: dict[str, str]) -> None:
    assert run(env, "init")[0] == 0
    code, out = run(env, "keys", "rotate-signing")
    assert code == 0 and "new signing key" in out


def test_audit_verify_names_the_tampered_event(env: dict[str, str], tmp_path: Path) -> None:
    """ASVS V16.4.2: `bastion audit verify` detects an edited row and names it."""
    run(env, "users", "create", "carol", "--password-stdin", stdin=PASSWORD + "\n")
    run(env, "users", "lock", "carol")
    code, out = run(env, "audit", "verify")
    assert code == 0 and "intact" in out
    code, out = run(env, "audit", "tail", "--json")
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [e["action"] for e in events][-3:] == [
        "auth.register",
        "session.revoke_all",
        "admin.user.lock",
    ]
    with sqlite3.connect(tmp_path / "data" / "bastion.db") as db:
        db.execute("UPDATE audit_events SET outcome = 'failure' WHERE action = 'auth.register'")
    seq = next(e["seq"] for e in events if e["action"] == "auth.register")
    code, out = run(env, "audit", "verify")
    assert code == 1
    assert f"#{seq}" in out


def test_config_error_names_the_key(env: dict[str, str], tmp_path: Path) -> None:
    """ASVS V13.1.1-ish: a bad setting stops start-up with the key's name and env variable."""
    code, out = run({**env, "BASTION_TOKENS__ACCESS_TTL_SECONDS": "soon"}, "users", "list")
    assert code == 2
    assert "tokens.access_ttl_seconds" in out and "BASTION_TOKENS__ACCESS_TTL_SECONDS" in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[tokens]\nalgorithm = 'HS256'\n")
    code, out = run({**env, "BASTION_CONFIG": str(bad)}, "users", "list")
    assert code == 2 and "tokens.algorithm" in out


def test_unreachable_database_is_explained(env: dict[str, str]) -> None:
    code, out = run(
        {**env, "BASTION_DATABASE__URL": "postgresql://nobody@127.0.0.1:1/none"}, "users", "list"
    )
    assert code == 3
    assert "storage unavailable" in out and "nobody" not in out


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    """The CLI configures structlog globally; give the next test the defaults back."""
    import structlog

    yield None
    structlog.reset_defaults()


def test_audit_export_writes_every_event(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "users", "create", "erin", "--password-stdin", stdin=PASSWORD + "\n")
    out_file = tmp_path / "audit.jsonl"
    code, out = run(env, "audit", "export", "-o", str(out_file))
    assert code == 0 and "exported" in out
    events = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [e["action"] for e in events][-1] == "auth.register"
    assert all(e["hash"] and e["prev_hash"] for e in events)
