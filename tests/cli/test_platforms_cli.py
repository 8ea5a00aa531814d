"""``bastion platforms verify|decrypt`` against the published platform vectors, in process."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from tests.vectors import load_vectors

PRODUCTION_KEY = "e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d"
TEST_KEY = "40055058a4ee38156a06562e52eece92a771bcd8346a8c4615cb7376eddf72ec"
REJECTED = re.compile(r"^rejected: ([a-z_:0-9]+): ", re.MULTILINE)


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    """The CLI configures structlog globally; give the next test the defaults back."""
    import structlog

    yield None
    structlog.reset_defaults()


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, ["platforms", *args], env=env or {}, input=stdin)


def _verified(name: str, needs: str) -> list[dict[str, Any]]:
    return [v for v in load_vectors(name)["vectors"] if v["verified"] and needs in v["inputs"]]


def _reason(result: Any) -> str | None:
    found = REJECTED.search(result.stderr)
    return found.group(1) if found else None


def _expect(result: Any, expected: dict[str, Any], *secrets: str) -> Any:
    """Exit 0 with JSON on stdout, or exit 1 naming the exact reason; no secret printed."""
    for secret in secrets:
        assert secret not in result.output, "a secret was printed"
    if expected.get("valid", True) is False:
        assert (result.exit_code, _reason(result)) == (1, expected["error"]), result.output
        assert result.stdout == ""
        return None
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- Telegram -------------------------------------------------------------------------------

_FIRST_PARTY = _verified("platforms/telegram.json", "bot_token")
_FIRST_PARTY = [v for v in _FIRST_PARTY if "init_data" in v["inputs"]]


@pytest.mark.parametrize("vector", _FIRST_PARTY, ids=[v["id"] for v in _FIRST_PARTY])
def test_verify_telegram_first_party_vectors(vector: dict[str, Any]) -> None:
    """ASVS V9.1.1, V9.2.1: the checker gives the verified user or the exact reason; the bot
    token comes from the environment and is never printed (V13.3.1, V16.2.5)."""
    inputs = vector["inputs"]
    result = run(
        "verify", "telegram", "--init-data", inputs["init_data"], "--bot-token-env", "TG_TOKEN",
        "--now", str(inputs["now"]), "--max-age", str(inputs["max_age_s"]),
        env={"TG_TOKEN": inputs["bot_token"]},
    )  # fmt: skip
    shown = _expect(result, vector["expected"], inputs["bot_token"])
    if shown is not None:
        assert set(shown) == {"user_id", "user", "auth_date"}
        assert shown["user_id"] == int(shown["user"]["id"])


def test_verify_telegram_reads_the_token_from_stdin() -> None:
    t1 = next(v for v in _FIRST_PARTY if v["id"] == "T1")["inputs"]
    args = ["verify", "telegram", "--init-data", t1["init_data"], "--now", str(t1["now"])]
    result = run(*args, "--max-age", str(t1["max_age_s"]), stdin=t1["bot_token"] + "\n")
    assert result.exit_code == 0, result.output
    assert t1["bot_token"] not in result.output
    assert run(*args, stdin="\n").exit_code == 2


_THIRD_PARTY = [
    v
    for v in _verified("platforms/telegram.json", "bot_id")
    if v["inputs"]["public_key_hex"] in (PRODUCTION_KEY, TEST_KEY)
]


@pytest.mark.parametrize("vector", _THIRD_PARTY, ids=[v["id"] for v in _THIRD_PARTY])
def test_verify_telegram_third_party_vectors(vector: dict[str, Any]) -> None:
    """ASVS V9.1.1: third-party (Ed25519) validation with Telegram's own keys."""
    inputs = vector["inputs"]
    env_flag = (
        "--test-environment" if inputs["public_key_hex"] == TEST_KEY else "--no-test-environment"
    )
    result = run(
        "verify", "telegram", "--init-data", inputs["init_data"], "--bot-id", str(inputs["bot_id"]),
        env_flag, "--now", str(inputs["now"]), "--max-age", str(inputs["max_age_s"]),
    )  # fmt: skip
    _expect(result, vector["expected"])


def test_verify_other_platforms_is_a_usage_error() -> None:
    result = run("verify", "wechat", "--init-data", "a=b", "--bot-token-env", "X", env={"X": "1"})
    assert result.exit_code == 2


# -- WeChat -------------------------------------------------------------------------------

_WECHAT = _verified("platforms/wechat.json", "encrypted_data")
_W1 = next(v for v in _WECHAT if v["id"] == "W1")["inputs"]
_W1_OPENID = json.loads(next(v for v in _WECHAT if v["id"] == "W1")["expected"]["plaintext"])[
    "openId"
]


@pytest.mark.parametrize("vector", _WECHAT, ids=[v["id"] for v in _WECHAT])
def test_decrypt_wechat_vectors(vector: dict[str, Any]) -> None:
    """ASVS V9.2.1, V9.2.3: decryption, the watermark app id and its age, with the exact
    reason for each refusal; the session_key is never printed."""
    inputs = vector["inputs"]
    # The server checks the openId inside the data against the signed-in openid; W1-d2 (an
    # IV bit flip that rewrites the openId) is only caught by that check.
    openid = (
        ["--openid", _W1_OPENID] if vector["expected"].get("error") == "openid_mismatch" else []
    )
    result = run(
        "decrypt", "wechat", "--session-key-env", "SK", "--iv", inputs["iv"],
        "--data", inputs["encrypted_data"], "--appid", inputs["appid"],
        "--now", str(inputs.get("now", _W1["now"])),
        "--max-age", str(inputs.get("watermark_max_age_s", 600)), *openid,
        env={"SK": inputs["session_key"]},
    )  # fmt: skip
    shown = _expect(result, vector["expected"], inputs["session_key"])
    if shown is not None and "plaintext" in vector["expected"]:
        assert shown == json.loads(vector["expected"]["plaintext"])


def test_decrypt_wechat_with_a_wrong_app_id() -> None:
    result = run(
        "decrypt", "wechat", "--session-key-env", "SK", "--iv", _W1["iv"],
        "--data", _W1["encrypted_data"], "--appid", "wx0000000000000001",
        "--now", str(_W1["now"]), "--max-age", "600", env={"SK": _W1["session_key"]},
    )  # fmt: skip
    assert (result.exit_code, _reason(result)) == (1, "appid_mismatch")
    assert "another mini program" in result.stderr


def test_decrypt_douyin_uses_the_wechat_algorithm() -> None:
    result = run(
        "decrypt", "douyin", "--session-key-env", "SK", "--iv", _W1["iv"],
        "--data", _W1["encrypted_data"], "--appid", _W1["appid"],
        "--now", str(_W1["now"]), env={"SK": _W1["session_key"]},
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("platform", "missing"), [("wechat", "--appid"), ("douyin", "--appid"), ("baidu", "--app-key")]
)
def test_decrypt_without_the_app_id_is_a_usage_error(platform: str, missing: str) -> None:
    """A missing check parameter is explained (exit 2), never a traceback."""
    result = run(
        "decrypt", platform, "--session-key-env", "SK", "--iv", _W1["iv"],
        "--data", _W1["encrypted_data"], env={"SK": _W1["session_key"]},
    )  # fmt: skip
    assert result.exit_code == 2, repr(result.exception)
    assert missing in result.stderr


def test_decrypt_reads_the_session_key_from_stdin_only_when_no_env() -> None:
    args = ["decrypt", "wechat", "--iv", _W1["iv"], "--data", _W1["encrypted_data"]]
    args += ["--appid", _W1["appid"], "--now", str(_W1["now"])]
    result = run(*args, stdin=_W1["session_key"] + "\n")
    assert result.exit_code == 0, result.output
    result = run(*args, "--session-key-env", "UNSET_VARIABLE")
    assert result.exit_code == 2 and "UNSET_VARIABLE" in result.stderr


# -- Baidu and Alipay ------------------------------------------------------------------------

_BAIDU = _verified("platforms/baidu.json", "ciphertext")


@pytest.mark.parametrize("vector", _BAIDU, ids=[v["id"] for v in _BAIDU])
def test_decrypt_baidu_vectors(vector: dict[str, Any]) -> None:
    """ASVS V9.2.3: the trailing App Key must be ours (Baidu's stand-in for a watermark)."""
    inputs = vector["inputs"]
    result = run(
        "decrypt", "baidu", "--session-key-env", "SK", "--iv", inputs["iv"],
        "--data", inputs["ciphertext"], "--app-key", inputs["app_key"],
        env={"SK": inputs["session_key"]},
    )  # fmt: skip
    shown = _expect(result, vector["expected"], inputs["session_key"])
    if shown is not None:
        assert shown == json.loads(vector["expected"]["plaintext"])


_ALIPAY = {v["id"]: v["inputs"] for v in load_vectors("platforms/alipay.json")["vectors"]}


@pytest.mark.parametrize(
    ("data", "key", "expected"),
    [
        (_ALIPAY["A5"]["response"], _ALIPAY["A5"]["aes_key"], {"plaintext": True}),
        # the right key, but the content is not a JSON object: one generic reason
        (
            "ILpoMowjIQjfYMR847rnFQ==",
            _ALIPAY["A1-1"]["aes_key"],
            {"valid": False, "error": "decrypt_failed"},
        ),
        # A5's content with another valid key: padding or JSON fails, same generic reason
        (
            _ALIPAY["A5"]["response"],
            _ALIPAY["A1-2"]["aes_key"],
            {"valid": False, "error": "decrypt_failed"},
        ),
    ],
    ids=["A5", "A1-1-not-json", "A5-other-key"],
)
def test_decrypt_alipay_vectors(data: str, key: str, expected: dict[str, Any]) -> None:
    """Alipay content decryption (AES-CBC, zero IV) of the published A5 response; failures
    are one generic ``decrypt_failed`` (no padding oracle)."""
    result = run("decrypt", "alipay", "--aes-key-env", "AK", "--data", data, env={"AK": key})
    shown = _expect(result, expected, key)
    if shown is not None:
        published = next(
            v for v in load_vectors("platforms/alipay.json")["vectors"] if v["id"] == "A5"
        )
        assert shown == json.loads(published["expected"]["plaintext"])


def test_decrypt_alipay_with_an_unusable_key_is_explained() -> None:
    """A key that is not base64 of 16/24/32 bytes is a clear error, not a traceback, and the
    key is not echoed."""
    bad_key = "not-a-valid-aes-key"
    result = run("decrypt", "alipay", "--aes-key-env", "AK", "--data", "AAAA", env={"AK": bad_key})
    assert result.exit_code in (1, 2)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.strip() and bad_key not in result.output


def test_decrypt_an_unknown_platform_is_a_usage_error() -> None:
    result = run("decrypt", "qq", "--session-key-env", "SK", "--data", "AAAA", env={"SK": "AAAA"})
    assert result.exit_code == 2 and "unknown platform" in result.stderr


@pytest.mark.parametrize(
    "command",
    [["platforms"], ["platforms", "verify"], ["platforms", "decrypt"]],
)
def test_every_platforms_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
