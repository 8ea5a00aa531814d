"""``bastion apikeys``: issue, list, show, rotate, revoke from the command line."""

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


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {"BASTION_DATA_DIR": str(tmp_path / "d"), "BASTION_CONFIG": "", "BASTION_MASTER_KEY": ""}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_key_lifecycle(tmp_path: Path) -> None:
    code, out = run(
        tmp_path,
        "apikeys",
        "create",
        "--name",
        "acme",
        "--scopes",
        "orders:read,orders:write",
        "--expires",
        "30d",
        "--rate",
        "100/min",
        "--service",
        "acme",
    )
    assert code == 0, out
    key = next(line for line in out.splitlines() if line.startswith("bst_live_"))
    key_id = key.split("_")[2]
    code, out = run(tmp_path, "apikeys", "list")
    assert code == 0 and "acme" in out and key[20:] not in out
    code, out = run(tmp_path, "apikeys", "show", key_id)
    assert code == 0 and "orders:read" in out and "100/min" in out
    code, out = run(tmp_path, "apikeys", "rotate", key_id, "--overlap", "1h")
    assert code == 0 and "bst_live_" in out
    code, out = run(tmp_path, "apikeys", "revoke", key_id)
    assert code == 0 and "revoked" in out


@pytest.mark.parametrize(
    "args",
    [
        ["--name", "x", "--scopes", "a", "--expires", "soon", "--service", "s"],
        ["--name", "x", "--scopes", "a"],
        ["--name", "x", "--scopes", "a", "--service", "s", "--user", "u"],
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    assert run(tmp_path, "apikeys", "create", *args)[0] == 2


def test_bad_rate_is_explained(tmp_path: Path) -> None:
    code, out = run(
        tmp_path,
        "apikeys",
        "create",
        "--name",
        "x",
        "--scopes",
        "a",
        "--rate",
        "lots",
        "--service",
        "s",
    )
    assert code != 0 and "rate" in out.lower()
