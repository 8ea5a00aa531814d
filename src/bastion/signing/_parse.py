"""Reading ``Signature-Input`` and ``Signature`` (RFC 9421) into an :class:`UnverifiedSignature`.

Accepted: exactly one signature (any label) in both fields; covered components are plain
lower-case sf-strings without parameters, each at most once, that include ``"@method"``,
``"@path"``, ``"@query"``, ``"content-digest"`` and, when the request has one,
``"content-type"``; parameters ``created`` (integer), ``nonce`` (base64url text, 22-128
characters: at least 128 bits from the signer's CSPRNG), ``keyid`` (``s:…`` or ``k:…``),
``alg`` (only ``"hmac-sha256"``, may be left out), ``expires`` (integer) and ``tag`` (text).
Anything else is refused. The MAC must be exactly 32 bytes (no truncated MACs).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from typing import NamedTuple

from bastion.errors import InvalidSignature
from bastion.signing._canonical import DERIVED, NOT_COVERABLE, REQUIRED
from bastion.signing._mac import MAC_BYTES
from bastion.signing._sfv import (
    BareItem,
    InnerList,
    Item,
    SfvError,
    parse_bytes_member,
    parse_dictionary,
    serialize_inner_list,
)

__all__ = ["ALG", "UnverifiedSignature", "parse_signature"]

ALG = "hmac-sha256"
MAX_COMPONENTS = 16
NONCE = re.compile(r"^[A-Za-z0-9_-]{22,128}$")
FIELD_NAME = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$")
_PARAM_TYPES: dict[str, type] = {
    "created": int,
    "expires": int,
    "nonce": str,
    "keyid": str,
    "alg": str,
    "tag": str,
}


class UnverifiedSignature(NamedTuple):
    """A parsed, not yet verified, signature: nothing here may be trusted until the MAC over
    :attr:`params` and the components checks out. (An immutable named tuple: one is made
    per signed request, and a tuple is made far faster than a frozen dataclass.)"""

    label: str
    components: tuple[str, ...]
    params: str
    created: int
    expires: int | None
    nonce: str
    key_id: str
    mac: bytes = b""

    def __repr__(self) -> str:
        return f"UnverifiedSignature(label={self.label!r}, key_id={self.key_id!r})"


def _one_member(value: str | None, limit: int, what: str) -> tuple[str, Item | InnerList]:
    if value is None:
        raise InvalidSignature("missing", f"The {what} header is missing.")
    if len(value) > limit:
        raise InvalidSignature("malformed", f"The {what} header is too long.")
    try:
        members = parse_bytes_member(value)
    except SfvError:
        raise InvalidSignature("malformed", f"The {what} header does not parse.") from None
    if len(members) != 1:
        raise InvalidSignature("malformed", f"The {what} header must hold one signature.")
    return next(iter(members.items()))


def _components(inner: InnerList, headers: Mapping[str, str]) -> tuple[str, ...]:
    names: list[str] = []
    for item in inner.items:
        name = item.value
        if type(name) is not str or item.params:
            raise InvalidSignature("unsupported", "Components must be plain quoted names.")
        if name.startswith("@") and name not in DERIVED:
            raise InvalidSignature("unsupported", "Only @method, @path and @query are derived.")
        if not name.startswith("@") and (not FIELD_NAME.match(name) or name in NOT_COVERABLE):
            raise InvalidSignature("unsupported", "A covered field name is not allowed.")
        if name in names:
            raise InvalidSignature("malformed", "A component is covered twice.")
        names.append(name)
    if len(names) > MAX_COMPONENTS:
        raise InvalidSignature("unsupported", "Too many covered components.")
    needed = REQUIRED + (("content-type",) if "content-type" in headers else ())
    if any(n not in names for n in needed):
        raise InvalidSignature("unsupported", "A required component is not covered.")
    return tuple(names)


def _params(inner: InnerList) -> dict[str, int | str]:
    out: dict[str, int | str] = {}
    for name, value in inner.params.items():
        kind = _PARAM_TYPES.get(name)
        if kind is None or type(value) is not kind:
            raise InvalidSignature("unsupported", "Unknown or mistyped signature parameter.")
        out[name] = value  # type: ignore[assignment]
    if out.get("alg", ALG) != ALG:
        raise InvalidSignature("unsupported", "Only alg hmac-sha256 is accepted.")
    for required in ("created", "nonce", "keyid"):
        if required not in out:
            raise InvalidSignature("malformed", "created, nonce and keyid are required.")
    if not NONCE.match(str(out["nonce"])):
        raise InvalidSignature("malformed", "The nonce must be 22-128 base64url characters.")
    return out


_NAME = r'"[a-z0-9@!#$%&\'*+.^_`|~-]+"'
_CANONICAL = re.compile(
    rf"([a-z*][a-z0-9_.*-]*)=(\((?:{_NAME}(?: {_NAME})*)?\)"
    r'((?:;[a-z*][a-z0-9_.*-]*=(?:0|[1-9][0-9]{0,14}|"[\x20\x21\x23-\x5b\x5d-\x7e]*"))*))'
)
_PARAM = re.compile(r';([a-z*][a-z0-9_.*-]*)=(?:([0-9]+)|"([^"]*)")')


def _fast_member(value: str | None, limit: int) -> tuple[str, InnerList] | None:
    """The one member of a ``Signature-Input`` already in canonical form (what Bastion's
    signers write), read with one regular expression; None sends it to the general parser.
    Gives exactly what the general parser gives for such input."""
    if value is None or len(value) > limit:
        return None
    found = _CANONICAL.fullmatch(value)
    if found is None:
        return None
    names = found[2][1 : found[2].index(")")].split(" ") if found[2][1] != ")" else []
    params: dict[str, BareItem] = {}
    for name, number, text in _PARAM.findall(found[3]):
        if name in params:
            return None
        params[name] = int(number) if number else text
    return found[1], InnerList(tuple(Item(n[1:-1]) for n in names), params)


# The exact shape Bastion's signers (Python and JavaScript) write: one label, plain quoted
# component names, then created, nonce, keyid and alg in that order; Signature a 32-byte MAC.
_OWN_INPUT = re.compile(
    rf"([a-z*][a-z0-9_.*-]*)=\(({_NAME}(?: {_NAME})*)\)"
    r';created=(0|[1-9][0-9]{0,14});nonce="([A-Za-z0-9_-]{22,128})"'
    r';keyid="([\x20\x21\x23-\x5b\x5d-\x7e]*)";alg="hmac-sha256"'
)
_OWN_MAC = re.compile(r"([a-z*][a-z0-9_.*-]*)=:([A-Za-z0-9+/]{43}=):")
MAX_SHAPES = 64
_covered_lists: dict[str, tuple[str, ...]] = {}


def _covered(text: str) -> tuple[str, ...] | None:
    """The checked component names of a component list (the text between the parentheses),
    remembered per distinct text: they depend on nothing else but whether the request has a
    ``Content-Type``, which the caller checks. None when the list is not acceptable (the
    general parser then says why); only acceptable lists are remembered, at most
    :data:`MAX_SHAPES` of them."""
    names = _covered_lists.get(text)
    if names is None:
        try:
            member = parse_dictionary(f"x=({text})")["x"]
            if not isinstance(member, InnerList):
                return None
            names = _components(member, {})
        except (SfvError, InvalidSignature):
            return None
        if len(_covered_lists) >= MAX_SHAPES:
            _covered_lists.clear()
        _covered_lists[text] = names
    return names


def _own_shape(
    raw_input: str, raw_mac: str, headers: Mapping[str, str]
) -> UnverifiedSignature | None:
    """The signature headers in the shape Bastion's signers write, read with two regular
    expressions and the remembered component list; None sends them to the general parser.
    Accepts nothing the general parser refuses and gives what it gives (property-tested)."""
    found = _OWN_INPUT.fullmatch(raw_input)
    mac = _OWN_MAC.fullmatch(raw_mac)
    if found is None or mac is None:
        return None
    label, names, created, nonce, key_id = found.groups()
    mac_label, encoded = mac.groups()
    if mac_label != label:
        return None
    components = _covered_lists.get(names) or _covered(names)
    if components is None or ("content-type" in headers and "content-type" not in components):
        return None
    try:  # what base64.b64decode(validate=True) does, without its Python layer
        tag = binascii.a2b_base64(encoded, strict_mode=True)
    except binascii.Error:
        return None
    params = raw_input[len(label) + 1 :]
    return UnverifiedSignature(label, components, params, int(created), None, nonce, key_id, tag)


def parse_signature(headers: Mapping[str, str], *, max_header_bytes: int) -> UnverifiedSignature:
    """Parse the signature headers of a request (``headers`` by lower-case name).

    Raises :class:`~bastion.errors.InvalidSignature` (``missing``, ``malformed`` or
    ``unsupported``) for anything outside the accepted profile; never trusts what it returns.
    """
    raw_input, raw_mac = headers.get("signature-input"), headers.get("signature")
    if (
        raw_input is not None
        and raw_mac is not None
        and len(raw_input) <= max_header_bytes
        and len(raw_mac) <= max_header_bytes
    ):
        own = _own_shape(raw_input, raw_mac, headers)
        if own is not None:
            return own
    return _parse_general(headers, max_header_bytes)


def _parse_general(headers: Mapping[str, str], max_header_bytes: int) -> UnverifiedSignature:
    raw_input = headers.get("signature-input")
    fast = _fast_member(raw_input, max_header_bytes)
    label, member = fast or _one_member(raw_input, max_header_bytes, "Signature-Input")
    if not isinstance(member, InnerList):
        raise InvalidSignature("malformed", "Signature-Input must be an inner list.")
    mac_label, mac = _one_member(headers.get("signature"), max_header_bytes, "Signature")
    if mac_label != label:
        raise InvalidSignature("malformed", "Signature and Signature-Input labels differ.")
    if not isinstance(mac, Item) or not isinstance(mac.value, bytes) or mac.params:
        raise InvalidSignature("malformed", "Signature must be a byte sequence.")
    if len(mac.value) != MAC_BYTES:
        raise InvalidSignature("malformed", "The signature must be a full 32-byte MAC.")
    components = _components(member, headers)
    params = _params(member)
    expires = params.get("expires")
    return UnverifiedSignature(
        label=label,
        components=components,
        params=raw_input[len(label) + 1 :] if fast and raw_input else serialize_inner_list(member),
        created=int(params["created"]),
        expires=None if expires is None else int(expires),
        nonce=str(params["nonce"]),
        key_id=str(params["keyid"]),
        mac=mac.value,
    )
