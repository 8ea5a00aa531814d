"""Password policy after NIST SP 800-63B and ASVS 5.0 V6.2.

Length in Unicode code points after NFKC (15 when the password is the only factor, 8 with a
second factor, at most 128 by default), no composition rules (V6.2.5), whole-password
matches against the bundled breached list (V6.2.4, V6.2.12), and no password built from the
user's own identifiers (V6.2.11). Every violation is reported at once, each with a stable
code; no message ever contains the password. ``strength`` is an advisory zxcvbn meter.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from zxcvbn import zxcvbn

from bastion.config import PasswordSettings
from bastion.errors import WeakPassword
from bastion.identity._breached import BreachedList
from bastion.identity._hashers import normalise_password

__all__ = ["PasswordPolicy", "PasswordStrength", "Violation"]

_IDENTIFIER_MIN = 4
"""Identifiers shorter than this are only refused as the whole password."""
_REMAINDER_MIN = 8
"""What is left after removing identifiers must be at least this long (and not filler)."""
_ZXCVBN_MAX = 100
_zxcvbn_lock = threading.Lock()  # zxcvbn keeps user_inputs in a module-global dictionary


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason a password is refused. ``code`` is stable; ``message`` is for people."""

    code: str
    message: str
    params: dict[str, int | str] = field(default_factory=dict)


class PasswordStrength(TypedDict):
    score: int
    guesses_log10: float
    crack_time_display: str
    warning: str
    suggestions: list[str]


def _identifier_tokens(identifiers: Sequence[str]) -> list[str]:
    """Normalised, casefolded identifiers plus the local part of each e-mail address."""
    tokens: list[str] = []
    for ident in identifiers:
        if not isinstance(ident, str):
            continue
        token = normalise_password(ident).casefold().strip()
        for candidate in (token, token.rpartition("@")[0] if "@" in token else ""):
            if candidate and candidate not in tokens:
                tokens.append(candidate)
    return tokens


def _is_filler(char: str) -> bool:
    """Digits, punctuation, symbols and spaces: what people append to a name."""
    return unicodedata.category(char)[0] in "NPSZ"


def _built_from_identifiers(folded: str, tokens: Sequence[str]) -> bool:
    """True when ``folded`` equals an identifier, or is one (or more) plus little else."""
    if folded in tokens:
        return True
    rest = folded
    for token in sorted(tokens, key=len, reverse=True):
        if len(token) >= _IDENTIFIER_MIN:
            rest = rest.replace(token, "")
    if rest == folded:
        return False
    return len(rest) < _REMAINDER_MIN or all(_is_filler(c) for c in rest)


class PasswordPolicy:
    """Checks a new password. Construct once; ``breached`` defaults to the bundled list."""

    def __init__(self, settings: PasswordSettings, breached: BreachedList | None = None) -> None:
        self._settings = settings
        self._breached = breached if breached is not None else BreachedList.bundled()

    def min_length(self, *, has_second_factor: bool = False) -> int:
        s = self._settings
        return s.min_length if has_second_factor else s.min_length_single_factor

    def check(
        self,
        password: str,
        *,
        identifiers: Sequence[str] = (),
        has_second_factor: bool = False,
    ) -> list[Violation]:
        """Every violation of the policy, in a fixed order; an empty list means accepted.

        Codes: ``empty``, ``too_short``, ``too_long``, ``breached``, ``contains_identifier``.
        Never raises for any ``str``; messages never contain the password or an identifier.
        """
        normalised = normalise_password(password)
        length = len(normalised)
        minimum = self.min_length(has_second_factor=has_second_factor)
        maximum = self._settings.max_length
        found: list[Violation] = []
        if length == 0:
            found.append(Violation("empty", "Enter a password."))
        if length < minimum:
            message = f"Use at least {minimum} characters."
            found.append(Violation("too_short", message, {"min_length": minimum}))
        if length > maximum:
            message = f"Use at most {maximum} characters."
            found.append(Violation("too_long", message, {"max_length": maximum}))
        if length and normalised in self._breached:
            message = "This password appears in lists of common or breached passwords."
            found.append(Violation("breached", message))
        tokens = _identifier_tokens(identifiers)
        if length and _built_from_identifiers(normalised.casefold(), tokens):
            message = "This password is built from your username or e-mail address."
            found.append(Violation("contains_identifier", message))
        return found

    def validate(
        self,
        password: str,
        *,
        identifiers: Sequence[str] = (),
        has_second_factor: bool = False,
    ) -> None:
        """Raise :class:`~bastion.errors.WeakPassword` listing every violation, if any.

        Each ``errors`` entry is ``{"code", "message", **params}``; none holds the password.
        """
        found = self.check(password, identifiers=identifiers, has_second_factor=has_second_factor)
        if found:
            errors: list[dict[str, Any]] = [
                {"code": v.code, "message": v.message, **v.params} for v in found
            ]
            raise WeakPassword(errors=errors)

    def strength(self, password: str, identifiers: Sequence[str] = ()) -> PasswordStrength:
        """Advisory zxcvbn estimate of the first 100 characters (NFKC), identifiers as hints.

        ``crack_time_display`` assumes an offline attack on a slow hash (10^4 guesses/s).
        """
        sample = normalise_password(password)[:_ZXCVBN_MAX]
        if not sample:
            return PasswordStrength(
                score=0,
                guesses_log10=0.0,
                crack_time_display="less than a second",
                warning="",
                suggestions=[],
            )
        with _zxcvbn_lock:
            result = zxcvbn(sample, _identifier_tokens(identifiers), max_length=_ZXCVBN_MAX)
        feedback = result["feedback"]
        return PasswordStrength(
            score=int(result["score"]),
            guesses_log10=round(float(result["guesses_log10"]), 2),
            crack_time_display=str(
                result["crack_times_display"]["offline_slow_hashing_1e4_per_second"]
            ),
            warning=str(feedback["warning"]),
            suggestions=[str(s) for s in feedback["suggestions"]],
        )
