"""``bastion platforms``: check one platform payload offline, the way the server would.

For the moment a mini program login fails in production: paste the payload, keep the secret
in an environment variable (or pipe it on stdin), and read the exact reason. Secrets are never
command-line arguments (they would land in shell history and ``ps``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Annotated, Any

import typer

from bastion.cli._common import console, err_console

__all__ = ["app"]

app = typer.Typer(
    help="Check platform payloads offline (Telegram initData, encryptedData).", no_args_is_help=True
)

REASONS = {
    "decrypt_failed": "decryption failed: wrong session key or iv, corrupted data, or bad padding",
    "base64_invalid": "a field that must be base64 is not",
    "invalid_key": "the key has the wrong length (WeChat/Douyin session_key: 16 bytes as base64)",
    "appid_mismatch": "watermark.appid is not the app id you gave: data from another mini program",
    "openid_mismatch": "the openId inside the data is not the signed-in user's openid",
    "stale": "the watermark timestamp is older than the allowed age",
    "app_key_mismatch": "the App Key at the end of the Baidu plaintext is not the one you gave",
    "signature_invalid": "the signature or hash does not match: wrong secret, or a changed payload",
    "signature_missing": "the initData has no signature field",
    "hash_missing": "the initData has no hash field",
    "auth_date_missing": "the initData has no auth_date",
    "auth_date_malformed": "auth_date is not an integer",
    "expired": "auth_date is older than the allowed age (--max-age)",
    "malformed": "the query string cannot be parsed (a pair without '=', or a duplicate key)",
    "auth_date_in_future": "auth_date is more than a minute in the future: check the clock",
    "user_missing": "the initData has no user field",
    "user_malformed": "the user field is not the JSON object Telegram sends",
}

NowOpt = Annotated[
    float | None, typer.Option("--now", help="Unix time to check against (default: now).")
]


def _secret(env_name: str | None, what: str) -> str:
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            err_console.print(f"[red]environment variable {env_name} is empty or unset[/red]")
            raise typer.Exit(2)
        return value
    if sys.stdin.isatty():
        err_console.print(
            f"give the {what} in an environment variable "
            f"(--{what.replace(' ', '-')}-env NAME) or on stdin"
        )
        raise typer.Exit(2)
    value = sys.stdin.readline().strip()
    if not value:
        err_console.print(
            f"no {what} on stdin; pipe it in, or use --{what.replace(' ', '-')}-env NAME"
        )
        raise typer.Exit(2)
    return value


def _run(check: Any) -> None:
    from bastion.errors import ConfigError
    from bastion.platforms import PlatformError

    try:
        result = check()
    except ConfigError as exc:  # an unusable key given by the operator, not a payload fault
        err_console.print(f"[red]unusable key[/red]: {exc.detail}", soft_wrap=True)
        raise typer.Exit(2) from None
    except PlatformError as exc:
        explanation = REASONS.get(exc.reason, exc.detail)
        err_console.print(f"[red]rejected[/red]: {exc.reason}: {explanation}", soft_wrap=True)
        raise typer.Exit(1) from None
    console.print_json(json.dumps(result, ensure_ascii=False, default=str))


@app.command()
def verify(
    platform: Annotated[str, typer.Argument(help="telegram")],
    init_data: Annotated[
        str, typer.Option("--init-data", help="The raw Telegram.WebApp.initData string.")
    ],
    bot_token_env: Annotated[
        str | None, typer.Option(help="Env variable holding the bot token.")
    ] = None,
    bot_id: Annotated[
        int | None, typer.Option(help="Bot id, for third-party (Ed25519) validation.")
    ] = None,
    test_environment: Annotated[
        bool, typer.Option(help="Use Telegram's test-environment key.")
    ] = False,
    now: NowOpt = None,
    max_age: Annotated[
        int, typer.Option("--max-age", help="Allowed auth_date age in seconds.")
    ] = 3600,
) -> None:
    """Validate Telegram Mini App initData; print the verified user or the exact reason.

    Example:

        TG_TOKEN=... bastion platforms verify telegram --init-data "$INIT" --bot-token-env TG_TOKEN
    """
    from bastion.platforms import validate_init_data, validate_init_data_third_party

    if platform != "telegram":
        err_console.print(
            "only 'telegram' is verified this way; use 'bastion platforms decrypt' for the others"
        )
        raise typer.Exit(2)
    at = time.time() if now is None else now

    def check() -> dict[str, Any]:
        if bot_id is not None and bot_token_env is None:
            data = validate_init_data_third_party(
                init_data,
                bot_id=bot_id,
                now=at,
                max_age_seconds=max_age,
                test_environment=test_environment,
            )
        else:
            token = _secret(bot_token_env, "bot token")
            data = validate_init_data(init_data, bot_token=token, now=at, max_age_seconds=max_age)
        return {"user_id": data.user_id, "user": data.user, "auth_date": data.auth_date}

    _run(check)


@app.command()
def decrypt(
    platform: Annotated[str, typer.Argument(help="wechat, douyin, baidu or alipay")],
    data: Annotated[str, typer.Option("--data", help="encryptedData (base64).")],
    iv: Annotated[str | None, typer.Option("--iv", help="iv (base64); not for alipay.")] = None,
    session_key_env: Annotated[
        str | None, typer.Option(help="Env variable holding the session_key.")
    ] = None,
    aes_key_env: Annotated[
        str | None, typer.Option(help="Env variable holding Alipay's AES key.")
    ] = None,
    appid: Annotated[
        str | None, typer.Option("--appid", help="Your app id (watermark check).")
    ] = None,
    app_key: Annotated[str | None, typer.Option("--app-key", help="Baidu App Key.")] = None,
    openid: Annotated[
        str | None, typer.Option("--openid", help="The user's openid: the data must be theirs.")
    ] = None,
    now: NowOpt = None,
    max_age: Annotated[
        int, typer.Option("--max-age", help="Allowed watermark age in seconds.")
    ] = 600,
) -> None:
    """Decrypt one encryptedData payload locally and run every check the server runs.

    Example:

        SK=... bastion platforms decrypt wechat --session-key-env SK \\
            --iv "$IV" --data "$DATA" --appid wx123
    """
    from bastion import platforms as p

    at = time.time() if now is None else now
    needed = {
        "wechat": ("--appid", appid),
        "douyin": ("--appid", appid),
        "baidu": ("--app-key", app_key),
    }
    if platform in needed and not needed[platform][1]:
        err_console.print(f"{platform} needs {needed[platform][0]} (and --iv)")
        raise typer.Exit(2)
    if platform in needed and not iv:
        err_console.print(f"{platform} needs --iv")
        raise typer.Exit(2)

    def check() -> dict[str, Any]:
        if platform == "alipay":
            return p.decrypt_alipay_content(data, _secret(aes_key_env, "aes key"))
        key = _secret(session_key_env, "session key")
        if platform == "baidu":
            return p.decrypt_baidu_data(
                session_key_b64=key,
                iv_b64=iv or "",
                encrypted_b64=data,
                app_key=app_key or "",
                expected_openid=openid,
            )
        decrypt_fn = {"wechat": p.decrypt_wechat_data, "douyin": p.decrypt_douyin_data}.get(
            platform
        )
        if decrypt_fn is None:
            err_console.print(f"unknown platform {platform!r}: use wechat, douyin, baidu or alipay")
            raise typer.Exit(2)
        return decrypt_fn(
            session_key_b64=key,
            iv_b64=iv or "",
            encrypted_b64=data,
            app_id=appid or "",
            now=at,
            max_age_seconds=max_age,
            expected_openid=openid,
        )

    _run(check)
