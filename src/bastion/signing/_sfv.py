"""A bounded parser and serializer for the part of RFC 8941 (Structured Field Values) that
request signatures use: Dictionaries whose members are Items or Inner Lists, with parameters;
bare items of type Integer, String, Token, Byte Sequence and Boolean. Decimals are refused.

Stricter than the RFC on purpose, for fields that carry signatures: a repeated dictionary key or
parameter name is an error (the RFC lets the last one win, which would let a proxy and the
verifier read different values), and members, parameters and inner-list items are capped.
Every failure raises :class:`SfvError`; nothing else escapes.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

__all__ = [
    "InnerList",
    "Item",
    "SfvError",
    "Token",
    "parse_bytes_member",
    "parse_dictionary",
    "serialize_dictionary",
    "serialize_inner_list",
    "serialize_item",
]

MAX_MEMBERS = 16
MAX_PARAMS = 16
MAX_INNER = 32
MAX_INTEGER = 999_999_999_999_999

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")
_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
_ESCAPE = re.compile(r'\\(["\\])')
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


class SfvError(ValueError):
    """The field is not a structured value this parser accepts."""


class Token(str):
    """An sf-token (unquoted), kept apart from an sf-string."""

    __slots__ = ()


BareItem = int | str | bytes | bool
Params = dict[str, BareItem]


@dataclass(frozen=True, slots=True)
class Item:
    value: BareItem
    params: Params = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InnerList:
    items: tuple[Item, ...]
    params: Params = field(default_factory=dict)


class _Reader:
    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def take(self, pattern: re.Pattern[str], what: str) -> str:
        found = pattern.match(self.text, self.pos)
        if found is None:
            raise SfvError(f"expected {what} at offset {self.pos}")
        self.pos = found.end()
        return found.group()

    def skip(self, chars: str) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in chars:
            pos += 1
        self.pos = pos


def _string(r: _Reader) -> str:
    found = _STRING.match(r.text, r.pos)
    if found is None:
        raise SfvError("bad string: unterminated, a bad escape or a non-printable character")
    r.pos = found.end()
    return _ESCAPE.sub(r"\1", found.group(1))


def _bytes(r: _Reader) -> bytes:
    r.pos += 1
    encoded = r.take(_BASE64, "base64")
    if r.peek() != ":":
        raise SfvError("unterminated byte sequence")
    r.pos += 1
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SfvError("bad base64 in byte sequence") from None


def _bare_item(r: _Reader) -> BareItem:
    ch = r.peek()
    if ch == '"':
        return _string(r)
    if ch == ":":
        return _bytes(r)
    if ch == "?":
        r.pos += 1
        flag = r.peek()
        if flag not in ("0", "1"):
            raise SfvError("bad boolean")
        r.pos += 1
        return flag == "1"
    if ch == "-" or "0" <= ch <= "9":
        number = r.take(_INTEGER, "integer")
        if r.peek() and r.peek() in ".0123456789":
            raise SfvError("decimals and integers over 15 digits are not accepted")
        return int(number)
    return Token(r.take(_TOKEN, "item"))


def _params(r: _Reader) -> Params:
    params: Params = {}
    while r.peek() == ";":
        r.pos += 1
        r.skip(" ")
        name = r.take(_KEY, "parameter name")
        if name in params:
            raise SfvError("repeated parameter")
        value: BareItem = True
        if r.peek() == "=":
            r.pos += 1
            value = _bare_item(r)
        params[name] = value
        if len(params) > MAX_PARAMS:
            raise SfvError("too many parameters")
    return params


def _inner_list(r: _Reader) -> InnerList:
    r.pos += 1
    items: list[Item] = []
    while True:
        r.skip(" ")
        if r.peek() == ")":
            r.pos += 1
            return InnerList(tuple(items), _params(r))
        items.append(Item(_bare_item(r), _params(r)))
        if len(items) > MAX_INNER:
            raise SfvError("too many inner-list items")
        if r.peek() not in (" ", ")"):
            raise SfvError("bad inner list")


_BYTES_MEMBER = re.compile(r"([a-z*][a-z0-9_\-.*]*)=:([A-Za-z0-9+/]*={0,2}):")


def parse_bytes_member(text: str) -> dict[str, Item | InnerList]:
    """:func:`parse_dictionary` for the common one-member ``key=:base64:`` field (``Signature``,
    ``Content-Digest``), with one regular expression; anything else goes to the full parser."""
    found = _BYTES_MEMBER.fullmatch(text)
    if found is None:
        return parse_dictionary(text)
    try:
        return {found[1]: Item(base64.b64decode(found[2], validate=True))}
    except (binascii.Error, ValueError):
        raise SfvError("bad base64 in byte sequence") from None


def parse_dictionary(text: str) -> dict[str, Item | InnerList]:
    """Parse an sf-dictionary. Raises :class:`SfvError` on anything outside the subset."""
    r = _Reader(text)
    r.skip(" ")
    members: dict[str, Item | InnerList] = {}
    while r.peek():
        key = r.take(_KEY, "dictionary key")
        if key in members:
            raise SfvError("repeated dictionary key")
        member: Item | InnerList
        if r.peek() == "=":
            r.pos += 1
            member = _inner_list(r) if r.peek() == "(" else Item(_bare_item(r), _params(r))
        else:
            member = Item(True, _params(r))
        members[key] = member
        if len(members) > MAX_MEMBERS:
            raise SfvError("too many dictionary members")
        r.skip(" \t")
        if not r.peek():
            break
        if r.peek() != ",":
            raise SfvError("expected ',' between members")
        r.pos += 1
        r.skip(" \t")
        if not r.peek():
            raise SfvError("trailing comma")
    return members


def _serialize_bare(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            raise SfvError("integer out of range")
        return str(value)
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Token):
        if not _TOKEN.fullmatch(value):
            raise SfvError("bad token")
        return str(value)
    if not _PRINTABLE.fullmatch(value):
        raise SfvError("non-printable character in string")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _serialize_params(params: Params) -> str:
    out = []
    for name, value in params.items():
        if not _KEY.fullmatch(name):
            raise SfvError("bad parameter name")
        out.append(";" + name if value is True else f";{name}={_serialize_bare(value)}")
    return "".join(out)


def serialize_item(item: Item) -> str:
    return _serialize_bare(item.value) + _serialize_params(item.params)


def serialize_inner_list(inner: InnerList) -> str:
    return (
        "("
        + " ".join(serialize_item(i) for i in inner.items)
        + ")"
        + _serialize_params(inner.params)
    )


def serialize_dictionary(members: dict[str, Item | InnerList]) -> str:
    out = []
    for key, member in members.items():
        if not _KEY.fullmatch(key):
            raise SfvError("bad dictionary key")
        if isinstance(member, InnerList):
            out.append(f"{key}={serialize_inner_list(member)}")
        elif member.value is True:
            out.append(key + _serialize_params(member.params))
        else:
            out.append(f"{key}={serialize_item(member)}")
    return ", ".join(out)
