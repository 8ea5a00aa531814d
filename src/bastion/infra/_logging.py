"""structlog set-up: JSON lines, ``request_id`` bound per request, a redaction processor last.

Event names are dotted (``auth.login.failed``). The redactor is the last line of defence: it
masks any field whose name suggests a secret and any value that looks like a bearer token.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["SENSITIVE_KEYS", "configure_logging", "redact"]

SENSITIVE_KEYS = frozenset(
    {
        "password",
        "new_password",
        "token",
        "access_token",
        "refresh_token",
        "mfa_token",
        "authorization",
        "cookie",
        "secret",
        "code",
        "recovery_code",
        "email",
        "master_key",
        "database_url",
        "redis_url",
        "session_key",
    }
)
# JWT-shaped (three base64url parts) or long opaque tokens.
_TOKENISH = re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*|[A-Za-z0-9_-]{40,}")


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return _TOKENISH.sub("[redacted]", value)
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask secret-named keys and token-shaped values in every log entry."""
    for key in list(event):
        if key.lower() in SENSITIVE_KEYS:
            event[key] = "[redacted]"
        else:
            event[key] = _mask(event[key])
    return event


class _Stderr:
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Route structlog (and stdlib logging) to stderr as JSON lines."""
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
