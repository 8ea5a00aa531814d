"""Telegram Mini Apps ``initData`` checks: first party (bot token HMAC), third party (Ed25519).

Check order: size and strict parse (``malformed``) -> ``hash`` / ``signature`` present
(``hash_missing`` / ``signature_missing``) -> ``auth_date`` present and an integer
(``auth_date_missing`` / ``auth_date_malformed``) -> HMAC or Ed25519 (``signature_invalid``) ->
freshness (``expired``, ``auth_date_in_future``) -> the signed ``user`` (``user_missing``,
``user_malformed``). Every failure is a :class:`PlatformCredentialInvalid` with that ``reason``
and no message: never the bot token, the secret key, the credential or any of its values.

The data-check string uses the form-decoded values exactly as received (``+`` is a space, ``%XX``
a UTF-8 byte); the ``user`` JSON is never re-serialized. Parsing also refuses keys outside
``[A-Za-z0-9_]`` and values holding a line feed (Telegram sends neither): the data-check string
joins ``key=value`` lines with LF, so such fields could regroup a signed string into other
fields under the same signature. The replay guard over :func:`replay_key` is the caller's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote_to_bytes

from bastion.crypto.platform import TELEGRAM_PRODUCTION_PUBLIC_KEY as _PRODUCTION_KEY
from bastion.crypto.platform import TELEGRAM_TEST_PUBLIC_KEY as _TEST_KEY
from bastion.crypto.platform import ed25519_verify
from bastion.platforms._errors import PlatformCredentialInvalid

__all__ = [
    "MAX_FUTURE_SKEW_SECONDS",
    "MAX_INIT_DATA_BYTES",
    "TelegramInitData",
    "data_check_string",
    "init_data_hash",
    "parse_init_data",
    "replay_key",
    "telegram_secret_key",
    "validate_init_data",
    "validate_init_data_third_party",
    "validate_init_data_with_secret_key",
]

MAX_INIT_DATA_BYTES: Final = 16 * 1024
"""Larger ``initData`` (UTF-8 bytes) is refused as ``malformed`` before any parsing or crypto."""
MAX_FUTURE_SKEW_SECONDS: Final = 60
"""How far ahead of ``now`` a signed ``auth_date`` may be (clock skew with Telegram's servers)."""

_KEY: Final = re.compile(r"[A-Za-z0-9_]{1,64}")
_BAD_PERCENT: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_AUTH_DATE: Final = re.compile(r"[0-9]{1,12}")
_SIGNATURE: Final = re.compile(r"[A-Za-z0-9_-]{86}")
_USER_ID_TEXT: Final = re.compile(r"[0-9]{1,19}")
_MAX_USER_ID: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class TelegramInitData:
    """Verified ``initData``: ``user`` is the parsed signed ``user`` JSON, ``raw`` every decoded
    field. The credential parts and the profile are kept out of ``repr``."""

    user_id: int
    user: dict[str, Any] = field(repr=False)
    auth_date: int
    query_id: str | None
    chat_type: str | None
    start_param: str | None
    hash: str | None = field(repr=False)
    signature: str | None = field(repr=False)
    raw: dict[str, str] = field(repr=False)


_invalid = PlatformCredentialInvalid


def _form_decode(text: str) -> str:
    """``application/x-www-form-urlencoded`` decoding, strict: bad ``%`` escapes or bytes that
    are not UTF-8 raise ``malformed`` instead of being kept or replaced."""
    if _BAD_PERCENT.search(text):
        raise _invalid("malformed")
    try:
        return unquote_to_bytes(text.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("malformed") from None


def parse_init_data(init_data: str) -> dict[str, str]:
    """Parse ``initData`` strictly into its form-decoded, unverified fields; ``""`` is ``{}``.

    Raises ``PlatformCredentialInvalid("malformed")`` for over :data:`MAX_INIT_DATA_BYTES` UTF-8
    bytes or unencodable text, a pair without ``=`` (empty pairs too), a bad ``%`` escape or
    non-UTF-8 bytes, a key outside ``[A-Za-z0-9_]{1,64}``, a duplicate key (parameter pollution),
    or a value holding a line feed.
    """
    try:  # the length test first bounds the cost of encoding
        if len(init_data) > MAX_INIT_DATA_BYTES or len(init_data.encode()) > MAX_INIT_DATA_BYTES:
            raise _invalid("malformed")
    except UnicodeEncodeError:  # lone surrogates
        raise _invalid("malformed") from None
    fields: dict[str, str] = {}
    if not init_data:
        return fields
    for pair in init_data.split("&"):
        raw_key, sep, raw_value = pair.partition("=")
        if not sep:
            raise _invalid("malformed")
        key, value = _form_decode(raw_key), _form_decode(raw_value)
        if not _KEY.fullmatch(key) or key in fields or "\n" in value:
            raise _invalid("malformed")
        fields[key] = value
    return fields


def data_check_string(fields: Mapping[str, str], *, bot_id: int | None = None) -> str:
    """The signed text: sorted ``key=value`` lines joined by LF.

    First party (``bot_id`` None): every field but ``hash`` (``signature`` included). Third party:
    every field but ``hash`` and ``signature``, after a ``"<bot_id>:WebAppData"`` line.
    """
    skip = {"hash"} if bot_id is None else {"hash", "signature"}
    lines = [f"{key}={fields[key]}" for key in sorted(fields) if key not in skip]
    if bot_id is not None:
        lines.insert(0, f"{bot_id}:WebAppData")
    return "\n".join(lines)


def telegram_secret_key(bot_token: str) -> bytes:
    """``HMAC_SHA256(key="WebAppData", msg=bot_token)``: the 32-byte first-party secret key; it
    can forge ``initData``, so it is as secret as the token."""
    return hmac.new(b"WebAppData", bot_token.encode("utf-8"), hashlib.sha256).digest()


def init_data_hash(check_string: str, secret_key: bytes) -> str:
    """Lowercase hex ``HMAC_SHA256(key=secret_key, msg=check_string)`` (Telegram's ``hash``)."""
    return hmac.new(secret_key, check_string.encode("utf-8"), hashlib.sha256).hexdigest()


def _required(fields: Mapping[str, str], key: str, reason: str) -> str:
    value = fields.get(key, "")
    if not value:
        raise _invalid(reason)
    return value


def _auth_date(fields: Mapping[str, str]) -> int:
    if "auth_date" not in fields:
        raise _invalid("auth_date_missing")
    text = fields["auth_date"]
    if not _AUTH_DATE.fullmatch(text):
        raise _invalid("auth_date_malformed")
    return int(text)


def _check_max_age(max_age_seconds: int) -> None:
    if isinstance(max_age_seconds, bool) or max_age_seconds < 1:
        raise ValueError("max_age_seconds must be a positive number of seconds")


def _check_fresh(auth_date: int, now: float, max_age_seconds: int) -> None:
    age = now - auth_date  # written so that a NaN ``now`` fails closed
    if not age <= max_age_seconds:
        raise _invalid("expired")
    if not age >= -MAX_FUTURE_SKEW_SECONDS:
        raise _invalid("auth_date_in_future")


def _user(fields: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
    text = fields.get("user")
    if not text:
        raise _invalid("user_missing")
    try:
        user = json.loads(text)
    except (ValueError, RecursionError):
        raise _invalid("user_malformed") from None
    if not isinstance(user, dict):
        raise _invalid("user_malformed")
    raw_id = user.get("id")
    if isinstance(raw_id, str) and _USER_ID_TEXT.fullmatch(raw_id):
        raw_id = int(raw_id)
    if isinstance(raw_id, bool) or not isinstance(raw_id, int) or not 0 < raw_id <= _MAX_USER_ID:
        raise _invalid("user_malformed")
    return raw_id, user


def _verified(fields: dict[str, str], auth_date: int) -> TelegramInitData:
    user_id, user = _user(fields)
    return TelegramInitData(
        user_id=user_id,
        user=user,
        auth_date=auth_date,
        query_id=fields.get("query_id") or None,
        chat_type=fields.get("chat_type") or None,
        start_param=fields.get("start_param") or None,
        hash=fields.get("hash") or None,
        signature=fields.get("signature") or None,
        raw=fields,
    )


def validate_init_data(
    init_data: str, *, bot_token: str, now: float, max_age_seconds: int
) -> TelegramInitData:
    """Verify first-party ``initData`` with the bot token (ASVS V9.1.1, V9.2.1).

    ``hash`` must equal hex ``HMAC_SHA256(secret_key, data_check_string)`` with
    ``secret_key = HMAC_SHA256("WebAppData", bot_token)``; compared in constant time, a
    non-ASCII ``hash`` is simply unequal. Then ``now - auth_date <= max_age_seconds`` and
    ``auth_date <= now + MAX_FUTURE_SKEW_SECONDS``. Fails closed with
    ``PlatformCredentialInvalid`` (reasons in the module docstring); ``ValueError`` if
    ``max_age_seconds`` is not positive.
    """
    secret_key = telegram_secret_key(bot_token)
    return validate_init_data_with_secret_key(
        init_data, secret_key=secret_key, now=now, max_age_seconds=max_age_seconds
    )


def validate_init_data_with_secret_key(
    init_data: str, *, secret_key: bytes, now: float, max_age_seconds: int
) -> TelegramInitData:
    """:func:`validate_init_data` with the derived key of :func:`telegram_secret_key` instead of
    the bot token (same guarantees and errors)."""
    _check_max_age(max_age_seconds)
    fields = parse_init_data(init_data)
    received = _required(fields, "hash", "hash_missing")
    auth_date = _auth_date(fields)
    expected = init_data_hash(data_check_string(fields), secret_key).encode("ascii")
    if not (received.isascii() and hmac.compare_digest(received.encode("ascii"), expected)):
        raise _invalid("signature_invalid")
    _check_fresh(auth_date, now, max_age_seconds)
    return _verified(fields, auth_date)


def _signature_bytes(encoded: str) -> bytes:
    """Decode an unpadded base64url Ed25519 signature; only the canonical 86-character form of
    64 bytes is accepted, so one signature has exactly one spelling (a stable replay key)."""
    if not _SIGNATURE.fullmatch(encoded):
        raise _invalid("signature_invalid")
    raw = base64.urlsafe_b64decode(encoded + "==")  # cannot fail on 86 base64url characters
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != encoded.encode("ascii"):
        raise _invalid("signature_invalid")
    return raw


def validate_init_data_third_party(
    init_data: str,
    *,
    bot_id: int,
    now: float,
    max_age_seconds: int,
    test_environment: bool = False,
    public_key: bytes | None = None,
) -> TelegramInitData:
    """Verify ``initData`` through Telegram's Ed25519 ``signature``, without the bot token.

    The signed text is ``"<bot_id>:WebAppData\\n"`` + the sorted fields without ``hash`` and
    ``signature``, so data for another bot fails (ASVS V9.1.1, V9.2.3). The key is Telegram's
    production key, its test-environment key when ``test_environment``, or ``public_key``
    (32 raw bytes; for tests with a published test key pair only; ASVS V9.1.3: never from the
    request). ``hash`` is not authenticated here. Freshness as in :func:`validate_init_data`.
    Fails closed with ``PlatformCredentialInvalid``; ``ValueError`` for a non-positive
    ``bot_id`` or ``max_age_seconds``.
    """
    if isinstance(bot_id, bool) or bot_id < 1:
        raise ValueError("bot_id must be the positive numeric id of the bot")
    _check_max_age(max_age_seconds)
    if public_key is None:
        public_key = _TEST_KEY if test_environment else _PRODUCTION_KEY
    fields = parse_init_data(init_data)
    encoded = _required(fields, "signature", "signature_missing")
    auth_date = _auth_date(fields)
    message = data_check_string(fields, bot_id=bot_id).encode("utf-8")
    if not ed25519_verify(public_key, _signature_bytes(encoded), message):
        raise _invalid("signature_invalid")
    _check_fresh(auth_date, now, max_age_seconds)
    return _verified(fields, auth_date)


def replay_key(data: TelegramInitData) -> str:
    """A stable key naming one verified ``initData``, for a seen-once guard over the max age.

    ``"tg:s:" + signature`` when a signature is present (authenticated by both checks: by the
    HMAC first party, by Ed25519 third party, where its spelling is canonical), else
    ``"tg:h:" + hash``. ``hash`` is never used when a signature exists: third-party checks do not
    cover it, so an attacker could change it to dodge the guard.
    """
    if data.signature:
        return "tg:s:" + data.signature
    if data.hash:
        return "tg:h:" + data.hash
    raise ValueError("verified initData carries a hash or a signature")
