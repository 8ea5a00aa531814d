"""Normalisers: the canonical form of a value that its blind index is computed from, so that
``+86 138 0013 8000`` and ``13800138000`` find the same subject.

Each normaliser is a pure function ``str -> str`` that is idempotent (``n(n(x)) == n(x)``) and
raises only :class:`~bastion.errors.InvalidVaultValue` (whose message never holds the value).
The stored value is never normalised: only its index is.

- ``phone``: E.164 (``+8613800138000``) by libphonenumber; a number without ``+`` is read in
  the configured region (``vault.phone_region``, default ``CN``); extensions are dropped; the
  number must be *possible* for its country (right length), not necessarily allocated, and
  its E.164 form must read back as itself.
- ``email``: surrounding white space trimmed; the domain lower-cased, converted to its ASCII
  (IDNA 2008 / UTS 46) form and stripped of a trailing dot; the local part NFC-normalised and
  lower-cased (providers treat it case-insensitively in practice). Dots and ``+tags`` are kept:
  ignoring them is one provider's rule and would merge distinct mailboxes elsewhere.
- ``text``: NFKC, case-folded, runs of white space collapsed to one space, trimmed (ID numbers,
  licence plates, names typed in different ways).
- ``exact``: the value unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Literal

import idna
import phonenumbers

from bastion.errors import ConfigError, InvalidVaultValue

__all__ = [
    "NORMALISERS",
    "Kind",
    "normalise_email",
    "normalise_exact",
    "normalise_phone",
    "normalise_text",
    "normaliser",
]

Kind = Literal["phone", "email", "text", "exact"]
MAX_PHONE_CHARS = 64
MAX_EMAIL_CHARS = 254
MAX_LOCAL_BYTES = 64
MAX_DOMAIN_CHARS = 253
_BAD_LOCAL = re.compile(r"[\s\x00-\x1f\x7f@]")
_SPACE = re.compile(r"\s+")


def _invalid(code: str, message: str) -> InvalidVaultValue:
    return InvalidVaultValue(
        f"The value is not {message}.", errors=[{"field": "value", "code": code}]
    )


def normalise_phone(value: str, region: str = "CN") -> str:
    """E.164 form of a phone number; ``region`` ("" for none) reads numbers without ``+``.

    Raises :class:`InvalidVaultValue` (code ``phone``) for anything that is not a possible
    phone number. Idempotent: an E.164 string normalises to itself.
    """
    if len(value) > MAX_PHONE_CHARS:
        raise _invalid("phone", "a phone number")
    e164 = _e164(value, region)
    # Some inputs (runs of zeros read as national prefixes) format to a string that parses
    # differently; refusing those makes the normaliser idempotent by construction.
    if _e164(e164, "") != e164:
        raise _invalid("phone", "a phone number")
    return e164


def _e164(value: str, region: str) -> str:
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException:
        raise _invalid("phone", "a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise _invalid("phone", "a phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _domain(text: str) -> str:
    """The lower-case A-label form, without the root's trailing dot."""
    try:
        ascii_form = idna.encode(text.rstrip("."), uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise _invalid("email", "an e-mail address") from None
    ascii_form = ascii_form.rstrip(".").lower()
    labels = ascii_form.split(".")
    if len(labels) < 2 or "" in labels or len(ascii_form) > MAX_DOMAIN_CHARS:
        raise _invalid("email", "an e-mail address")
    return ascii_form


def normalise_email(value: str) -> str:
    """``Local@Bücher.Example`` -> ``local@xn--bcher-kva.example``.

    Raises :class:`InvalidVaultValue` (code ``email``) unless the value is one address with a
    dotted, IDNA-valid domain and a 1-64 byte local part without spaces or control characters.
    """
    text = value.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or len(text) > MAX_EMAIL_CHARS or _BAD_LOCAL.search(local):
        raise _invalid("email", "an e-mail address")
    local = unicodedata.normalize("NFC", unicodedata.normalize("NFC", local).lower())
    try:
        size = len(local.encode("utf-8"))
    except UnicodeEncodeError:
        raise _invalid("email", "an e-mail address") from None
    if size > MAX_LOCAL_BYTES:
        raise _invalid("email", "an e-mail address")
    return f"{local}@{_domain(domain)}"


def normalise_text(value: str) -> str:
    """NFKC, case-folded, white space collapsed and trimmed; raises :class:`InvalidVaultValue`
    (code ``text``) if that leaves nothing or does not settle (never seen in practice)."""
    current = value
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", current).casefold()
        folded = _SPACE.sub(" ", unicodedata.normalize("NFKC", folded)).strip()
        if folded == current:
            if not folded:
                raise _invalid("text", "a non-blank text")
            return folded
        current = folded
    raise _invalid("text", "a stable text")


def normalise_exact(value: str) -> str:
    """The value unchanged (the index matches only the very same string)."""
    return value


NORMALISERS: dict[str, Callable[[str], str]] = {
    "email": normalise_email,
    "text": normalise_text,
    "exact": normalise_exact,
}


def normaliser(kind: str, *, phone_region: str = "CN") -> Callable[[str], str]:
    """The normaliser for ``kind``; raises :class:`ConfigError` for an unknown kind or
    region."""
    if kind == "phone":
        if phone_region and phone_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(f"vault.phone_region {phone_region!r} is not a known region")
        return lambda value: normalise_phone(value, phone_region)
    if kind not in NORMALISERS:
        raise ConfigError(f"unknown vault normaliser {kind!r}")
    return NORMALISERS[kind]
