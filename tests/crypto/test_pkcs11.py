"""KEKs inside a PKCS#11 token (SoftHSM2): generated in the token, never extractable; data
keys wrapped and unwrapped inside it; rotation across token keys (ASVS V11.1.1, V13.3.1).

Needs Debian's softhsm2 package (installed by .ci/run). Skips without it on a developer
machine; fails under CI=true."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bastion import Bastion
from bastion.errors import ConfigError
from bastion.infra import ManualClock
from tests.conftest import IN_CI, make_settings

MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
PIN = "5678"


def _module() -> str:
    found = next((m for m in MODULES if os.path.exists(m)), None)
    if found and shutil.which("softhsm2-util"):
        return found
    message = "SoftHSM2 is not installed (apt-get install softhsm2); the PKCS#11 tests need it"
    if IN_CI:
        pytest.fail(message + " -- mandatory in CI")
    pytest.skip(message)


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh SoftHSM2 token in a temporary directory (SOFTHSM2_CONF points at it)."""
    module = _module()
    home = tmp_path_factory.mktemp("softhsm")
    (home / "tokens").mkdir()
    conf = home / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {home / 'tokens'}\nobjectstore.backend = file\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "bastion-test",
            "--so-pin",
            "1234",
            "--pin",
            PIN,
        ],
        check=True,
        capture_output=True,
    )
    yield module
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


def _settings(tmp_path: Path, module: str, **extra: Any) -> Any:
    crypto = {
        "kek_provider": "pkcs11",
        "pkcs11_module": module,
        "pkcs11_token": "bastion-test",
        "pkcs11_pin": PIN,
        "pkcs11_key_label": f"kek-{tmp_path.name[-12:]}",
        **extra,
    }
    return make_settings(tmp_path, crypto=crypto)


async def test_kek_lives_in_the_token_and_rotates(token: str, tmp_path: Path) -> None:
    settings = _settings(tmp_path, token)
    guard = await Bastion.open(settings, clock=ManualClock())
    try:
        blob = await guard.crypto.encrypt(b"v", subject="u1", context="t.v:1")
        assert not (tmp_path / "data" / "keks").exists()  # no key file: the KEK is in the token
        source = guard.crypto.keyring.source._get()  # type: ignore[attr-defined]
        kek = source.load(1)
        import pkcs11

        assert kek._key[pkcs11.Attribute.SENSITIVE] is True
        assert kek._key[pkcs11.Attribute.EXTRACTABLE] is False
        report = await guard.crypto.rotate()
        assert (report.version, report.rewrapped) == (2, 1)
        await guard.crypto.retire(1)
        guard.crypto.cache.clear()
        assert await guard.crypto.decrypt(blob, subject="u1", context="t.v:1") == b"v"
        status = await guard.crypto.status()
        assert status.keks[1]["where"] == f"PKCS#11 key {settings.crypto.pkcs11_key_label}-2"
    finally:
        await guard.close()
    again = await Bastion.open(settings, clock=ManualClock())  # a restart finds the token keys
    try:
        assert await again.crypto.decrypt(blob, subject="u1", context="t.v:1") == b"v"
    finally:
        await again.close()


async def test_wrong_pin_or_token_stops_start_up(token: str, tmp_path: Path) -> None:
    for extra in ({"pkcs11_pin": "0000"}, {"pkcs11_token": "nope"}, {"pkcs11_module": ""}):
        with pytest.raises(ConfigError):
            await Bastion.open(_settings(tmp_path, token, **extra), clock=ManualClock())


async def test_tampered_wrapped_keys_fail_closed(token: str, tmp_path: Path) -> None:
    from bastion.errors import DecryptionFailed

    guard = await Bastion.open(_settings(tmp_path, token), clock=ManualClock())
    try:
        kek = guard.crypto.keyring.current
        wrapped = kek.wrap(b"k" * 32, b"aad")
        assert kek.unwrap(wrapped, b"aad") == b"k" * 32
        for bad, aad in (
            (wrapped[:-1] + bytes([wrapped[-1] ^ 1]), b"aad"),
            (wrapped, b"aae"),
            (wrapped[:20], b"aad"),
        ):
            with pytest.raises(DecryptionFailed):
                kek.unwrap(bad, aad)
    finally:
        await guard.close()
