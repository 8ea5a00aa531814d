"""Settings: precedence, validation, errors that name the key (ASVS V13.1.x configuration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import load_settings
from bastion.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("BASTION_"):
            monkeypatch.delenv(key)


def test_defaults_are_the_adopted_figures() -> None:
    s = load_settings()
    assert (
        s.passwords.argon2_memory_kib,
        s.passwords.argon2_time_cost,
        s.passwords.argon2_parallelism,
    ) == (19456, 2, 1)
    assert s.tokens.access_ttl_seconds == 900 and s.tokens.algorithm == "EdDSA"
    assert s.sessions.idle_timeout_seconds == 1800 and s.sessions.absolute_lifetime_seconds == 43200
    assert s.passwords.min_length_single_factor == 15 and s.login.hard_failure_limit == 100
    assert s.tokens.refresh_reuse_grace_seconds <= 2
    assert s.database_url.startswith("sqlite+aiosqlite:///")
    assert s.redis_url is None


def test_precedence_override_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "b.toml"
    toml.write_text(
        "[tokens]\naccess_ttl_seconds = 600\nissuer = 'file'\n[sessions]\nmax_per_user = 3\n"
    )
    monkeypatch.setenv("BASTION_TOKENS__ACCESS_TTL_SECONDS", "300")
    s = load_settings(toml)
    assert s.tokens.access_ttl_seconds == 300  # env beats file
    assert s.tokens.issuer == "file"  # file beats default, other keys of the section survive
    assert s.sessions.max_per_user == 3
    assert load_settings(toml, data_dir=tmp_path / "x").data_dir == tmp_path / "x"


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ("[tokens]\nbogus = 1\n", "tokens.bogus"),
        ("[passwords]\nargon2_memory_kib = 1024\n", "passwords.argon2_memory_kib"),
        ("[passwords]\nmin_length = 6\n", "passwords.min_length"),
        ("[tokens]\nrefresh_reuse_grace_seconds = 30\n", "tokens.refresh_reuse_grace_seconds"),
        ("[sessions]\nidle_timeout_seconds = 90000\n", "sessions"),
        ("nonsense = true\n", "nonsense"),
        ('[[routes]]\npath = "api/*"\n', "routes.0.path"),
        ('[[routes]]\npath = "/a"\nmethods = ["FETCH"]\n', "routes.0.methods"),
        ('[[routes]]\npath = "/a"\nauth = "maybe"\n', "routes.0.auth"),
        (
            '[[routes]]\npath = "/a"\nheaders = { "X-A" = "1\\r\\nSet-Cookie: x" }\n',
            "routes.0.headers",
        ),
        ('[[routes]]\npath = "/a"\nbogus = 1\n', "routes.0.bogus"),
        ('[sanitize]\ntags = "b"\n', "sanitize.tags"),
    ],
)
def test_invalid_setting_names_the_key(tmp_path: Path, content: str, key: str) -> None:
    toml = tmp_path / "b.toml"
    toml.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_settings(toml)
    assert f"'{key}" in info.value.detail


def test_argon2_floor_rows() -> None:
    """ASVS appendix C: t=1 needs m>=47104; t=2 m>=19456; t>=3 m>=12288 (we keep m>=19456)."""
    with pytest.raises(ConfigError):
        load_settings(passwords={"argon2_time_cost": 1, "argon2_memory_kib": 19456})
    assert load_settings(passwords={"argon2_time_cost": 1, "argon2_memory_kib": 47104})


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "none.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[tokens\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken)


def test_secrets_are_masked() -> None:
    s = load_settings(database={"url": "postgresql://u:hunter2@db/x"}, master_key="A" * 43)
    assert "hunter2" not in repr(s) and "A" * 43 not in repr(s)
