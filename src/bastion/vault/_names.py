"""What a vault subject, field and value may be. Checked by the service for every caller
(HTTP, CLI, library); messages name the part, never echo it.

- subject: ``^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$``: an opaque id (a user id, ``service:acme``).
  Subjects appear in URLs and audit events, so they must never be personal data themselves.
- field: ``^[a-z][a-z0-9_]{0,63}$`` (``phone``, ``id_number``, ``address``).
- value: a non-empty string of at most ``vault.max_value_bytes`` UTF-8 bytes (4 KiB default).
"""

from __future__ import annotations

import re

from bastion.errors import InvalidVaultValue

__all__ = [
    "FIELD_PATTERN",
    "SUBJECT_PATTERN",
    "check_field",
    "check_subject",
    "check_value",
]

SUBJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
FIELD_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_SUBJECT = re.compile(SUBJECT_PATTERN)
_FIELD = re.compile(FIELD_PATTERN)


def _invalid(part: str, code: str, detail: str) -> InvalidVaultValue:
    return InvalidVaultValue(detail, errors=[{"field": part, "code": code}])


def check_subject(subject: object) -> str:
    """The subject if it matches :data:`SUBJECT_PATTERN`, else :class:`InvalidVaultValue`."""
    if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
        raise _invalid("subject", "pattern", f"The subject must match {SUBJECT_PATTERN}.")
    return subject


def check_field(field: object) -> str:
    """The field name if it matches :data:`FIELD_PATTERN`, else :class:`InvalidVaultValue`."""
    if not isinstance(field, str) or not _FIELD.fullmatch(field):
        raise _invalid("field", "pattern", f"The field name must match {FIELD_PATTERN}.")
    return field


def check_value(value: object, max_bytes: int) -> bytes:
    """The UTF-8 bytes of a non-empty string value of at most ``max_bytes`` bytes; anything
    else (another type, lone surrogates, too large) raises :class:`InvalidVaultValue`."""
    if not isinstance(value, str):
        raise _invalid("value", "type", "The value must be a string.")
    if len(value) > max_bytes:
        raise _invalid("value", "too_large", f"The value must be at most {max_bytes} bytes.")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid("value", "encoding", "The value must be valid Unicode text.") from None
    if not data:
        raise _invalid("value", "empty", "The value must not be empty.")
    if len(data) > max_bytes:
        raise _invalid("value", "too_large", f"The value must be at most {max_bytes} bytes.")
    return data
