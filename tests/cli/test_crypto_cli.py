"""``bastion crypto``: status, rotate, reencrypt, retire and shred from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion import Bastion
from bastion.cli import app
from bastion.config import load_settings


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    import structlog

    yield None
    structlog.reset_defaults()


def run(tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    env = {"BASTION_DATA_DIR": str(tmp_path / "d"), "BASTION_CONFIG": "", "BASTION_MASTER_KEY": ""}
    result = CliRunner().invoke(app, list(args), env=env, input=stdin)
    return result.exit_code, " ".join(result.output.split())


def _encrypt(tmp_path: Path, subject: str) -> bytes:
    async def go() -> bytes:
        guard = await Bastion.open(load_settings(data_dir=tmp_path / "d"))
        try:
            return await guard.crypto.encrypt(b"v", subject=subject, context="notes.body:1")
        finally:
            await guard.close()

    return asyncio.run(go())


def _decrypt(tmp_path: Path, blob: bytes, subject: str) -> str:
    async def go() -> str:
        guard = await Bastion.open(load_settings(data_dir=tmp_path / "d"))
        try:
            return (
                await guard.crypto.decrypt(blob, subject=subject, context="notes.body:1")
            ).decode()
        except Exception as exc:
            return type(exc).__name__
        finally:
            await guard.close()

    return asyncio.run(go())


def test_rotate_status_retire(tmp_path: Path) -> None:
    blob = _encrypt(tmp_path, "u1")
    code, out = run(tmp_path, "crypto", "status")
    assert code == 0 and "1 (current)" in out and "1 active" in out and "file" in out
    code, out = run(tmp_path, "crypto", "retire", "1")
    assert code == 1 and "current one" in out
    code, out = run(tmp_path, "crypto", "rotate", "--batch", "1")
    assert code == 0 and "rotated to KEK version 2" in out and "1 data keys re-wrapped" in out
    code, out = run(tmp_path, "crypto", "retire", "1")
    assert code == 0 and "retired" in out
    code, out = run(tmp_path, "crypto", "status")
    assert "2 (current)" in out and "retired" in out
    assert _decrypt(tmp_path, blob, "u1") == "v"


def test_retire_names_what_still_refers(tmp_path: Path) -> None:
    _encrypt(tmp_path, "u1")
    _encrypt(tmp_path, "u2")
    run(tmp_path, "crypto", "rotate")
    code, out = run(tmp_path, "crypto", "retire", "2")
    assert code == 1 and "current" in out
    code, out = run(tmp_path, "crypto", "retire", "9")
    assert code == 1 and "no KEK version 9" in out


def test_shred_asks_then_erases(tmp_path: Path) -> None:
    blob = _encrypt(tmp_path, "u1")
    code, _ = run(tmp_path, "crypto", "shred", "u1", stdin="n\n")
    assert code == 1 and _decrypt(tmp_path, blob, "u1") == "v"
    code, out = run(tmp_path, "crypto", "shred", "u1", "--yes")
    assert code == 0 and "1 data keys destroyed" in out
    assert _decrypt(tmp_path, blob, "u1") == "ShreddedSubject"
    code, out = run(tmp_path, "crypto", "status")
    assert "tombstones): 1" in out


def test_reencrypt_always_reaches_the_vault(tmp_path: Path) -> None:
    """The vault is a registered source in every Bastion; other ciphertexts stay readable."""
    blob = _encrypt(tmp_path, "u1")
    code, out = run(tmp_path, "crypto", "reencrypt")
    assert code == 0 and "vault: 0 values rewritten" in out and "1 old data keys" in out
    assert _decrypt(tmp_path, blob, "u1") == "v"


def test_reencrypt_reaches_configured_sources(tmp_path: Path) -> None:
    config = tmp_path / "b.toml"
    config.write_text('[crypto]\nreencrypt_sources = ["no_such_module:sources"]\n')
    code, out = run(tmp_path, "crypto", "reencrypt", "--config", str(config))
    assert code == 2 and "cannot import 'no_such_module:sources'" in out
