"""Signature-Input / Signature parsing: the accepted profile and every refusal (malformed,
oversize, unknown alg, missing parameters, truncated MAC: ASVS V11.4.3)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.errors import InvalidSignature
from bastion.signing import UnverifiedSignature, combine_headers, parse_signature, sign_request
from bastion.signing._parse import (
    MAX_SHAPES,
    _covered,
    _covered_lists,
    _fast_member,
    _own_shape,
    _parse_general,
)
from bastion.signing._sfv import InnerList, Item, parse_dictionary, serialize_inner_list

COMPONENTS = '("@method" "@path" "@query" "content-digest")'
PARAMS = ';created=1700000000;nonce="AAAAAAAAAAAAAAAAAAAAAA";keyid="s:abc";alg="hmac-sha256"'
MAC = ":" + "A" * 43 + "=:"


def _headers(inp: str, sig: str = f"sig1={MAC}", **more: str) -> dict[str, str]:
    return {"signature-input": inp, "signature": sig, **more}


def _reason(headers: dict[str, str]) -> str:
    with pytest.raises(InvalidSignature) as caught:
        parse_signature(headers, max_header_bytes=2048)
    return caught.value.reason


def test_accepted_profile() -> None:
    parsed = parse_signature(_headers(f"sig1={COMPONENTS}{PARAMS}"), max_header_bytes=2048)
    assert parsed.key_id == "s:abc" and parsed.created == 1700000000 and len(parsed.mac) == 32
    assert parsed.params == COMPONENTS + PARAMS
    assert "AAAA" not in repr(parsed)
    no_alg = PARAMS.replace(';alg="hmac-sha256"', "")
    assert parse_signature(_headers(f"sig1={COMPONENTS}{no_alg}"), max_header_bytes=2048)


def _swap(old: str, new: str) -> dict[str, str]:
    return _headers("sig1=" + COMPONENTS + PARAMS.replace(old, new))


def _covering(components: str) -> dict[str, str]:
    return _headers("sig1=" + components + PARAMS)


GOOD = "sig1=" + COMPONENTS + PARAMS
NONCE = "A" * 22


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"signature-input": GOOD}, "missing"),
        (_headers(GOOD + " " * 3000), "malformed"),
        (_headers(GOOD + ", sig2=" + COMPONENTS + PARAMS), "malformed"),
        (_headers(GOOD, f"sig2={MAC}"), "malformed"),
        (_headers(GOOD, "sig1=:AAAAAAAAAAAAAAAAAAAAAA==:"), "malformed"),  # truncated MAC
        (_headers(GOOD, 'sig1="text"'), "malformed"),
        (_headers("sig1=1" + PARAMS), "malformed"),
        (_swap("hmac-sha256", "rsa-pss-sha512"), "unsupported"),
        (_swap("hmac-sha256", "none"), "unsupported"),
        (_swap(PARAMS, PARAMS + ";extra=1"), "unsupported"),
        (_swap("created=1700000000", 'created="1"'), "unsupported"),
        (_swap(";created=1700000000", ""), "malformed"),
        (_swap(';keyid="s:abc"', ""), "malformed"),
        (_swap(';nonce="' + NONCE + '"', ""), "malformed"),
        (_swap(NONCE, "short"), "malformed"),
        (_swap(NONCE, "A" * 21 + "!"), "malformed"),
        (_covering('("@method" "@path" "@query")'), "unsupported"),
        (_covering('("@method" "@path" "@query" "content-digest" "@authority")'), "unsupported"),
        (_covering('("@method" "@path" "@query" "content-digest" "content-digest")'), "malformed"),
        (_covering('("@method";req "@path" "@query" "content-digest")'), "unsupported"),
        (_covering("(@method @path @query content-digest)"), "malformed"),
        (_covering('(method "@path" "@query" "content-digest")'), "unsupported"),
        (_covering('("@method" "@path" "@query" "content-digest" "signature")'), "unsupported"),
        (_headers(GOOD, **{"content-type": "text/plain"}), "unsupported"),
    ],
)
def test_refusals(headers: dict[str, str], reason: str) -> None:
    assert _reason(headers) == reason


comp_names = st.from_regex(r"\A@?[a-z0-9-]{1,10}\Z")
param_values = st.one_of(
    st.integers(0, 10**15 - 1), st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E))
)


@given(
    st.from_regex(r"\A[a-z][a-z0-9-]{0,6}\Z"),
    st.lists(comp_names, max_size=6),
    st.dictionaries(st.from_regex(r"\A[a-z][a-z0-9]{0,6}\Z"), param_values, max_size=5),
)
def test_canonical_fast_path_equals_the_general_parser(
    label: str, names: list[str], params: dict[str, int | str]
) -> None:
    """The regular-expression fast path for canonical input gives what the parser gives."""
    member = InnerList(tuple(Item(n) for n in names), dict(params))
    text = f"{label}={serialize_inner_list(member)}"
    fast = _fast_member(text, 4096)
    escaped = any(isinstance(v, str) and ('"' in v or "\\" in v) for v in params.values())
    assert fast == (None if escaped else (label, member))
    assert parse_dictionary(text) == {label: member}


def test_non_canonical_input_takes_the_general_parser() -> None:
    assert _fast_member('sig1=( "@method");created=1', 4096) is None
    assert _fast_member('sig1=("@method");created=01', 4096) is None
    assert _fast_member('sig1=("@method");a=1;a=2', 4096) is None
    assert _fast_member('sig1=("a\\\\b")', 4096) is None


# -- the fast path for the shape Bastion's signers write ----------------------------------

_COVERABLE = st.sampled_from(
    [
        *("@method", "@path", "@query", "content-digest", "content-type", "authorization"),
        *("x-a", "@authority", "signature", "Content-Type", "a;b", ""),
    ]
)
_SHAPED_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=6)


def _mostly(usual: str, *others: str) -> st.SearchStrategy[str]:
    """``usual`` nine times in ten, so that most drawn headers are a single step off."""
    return st.sampled_from([usual] * 9 * len(others) + list(others))


@st.composite
def _near_own_shape(draw: st.DrawFn) -> dict[str, str]:
    """Signature headers in, or a small step away from, the shape the signers write."""
    label = draw(_mostly("sig1", "a", "s*", "Sig1", "1a"))
    required = ["@method", "@path", "@query", "content-digest"]
    covered = draw(
        st.permutations(required).flatmap(lambda r: st.lists(_COVERABLE, max_size=3).map(r.__add__))
        if draw(st.integers(0, 4))
        else st.lists(_COVERABLE, max_size=8)
    )
    names = " ".join(f'"{n}"' for n in covered)
    created = draw(_mostly("1700000000", "0", "017", "-1", "9" * 16, '"1"', "1.5"))
    nonce = draw(_mostly(NONCE, "A" * 128, "A" * 129, "A" * 21, "A" * 21 + "!", "A" * 22 + "="))
    key_id = draw(_SHAPED_TEXT | st.just("s:abc"))
    alg = draw(_mostly("hmac-sha256", "rsa-pss-sha512", "HMAC-SHA256", ""))
    inp = f'{label}=({names});created={created};nonce="{nonce}";keyid="{key_id}";alg="{alg}"'
    inp = draw(_mostly(inp, inp.replace(";", "; ", 1), inp + ";tag=1", inp.replace(" ", "  ")))
    mac = base64.b64encode(draw(st.binary(min_size=32, max_size=32))).decode()
    mac = draw(_mostly(mac, mac[:-2] + "B=", mac.rstrip("="), mac + "==", mac[:-4] + "AA=="))
    mac_label = draw(_mostly(label, "sig2"))
    headers = {"signature-input": inp, "signature": f"{mac_label}=:{mac}:"}
    if draw(st.booleans()):
        headers["content-type"] = "application/json"
    return headers


def _general(headers: dict[str, str]) -> UnverifiedSignature | None:
    try:
        return _parse_general(headers, 2048)
    except InvalidSignature:
        return None


@settings(max_examples=400)
@given(_near_own_shape())
def test_own_shape_fast_path_agrees_with_the_general_parser(headers: dict[str, str]) -> None:
    """What the fast path accepts, the general parser accepts and reads the same; the rest
    goes to the general parser, so the verdict is the same for every input."""
    fast = _own_shape(headers["signature-input"], headers["signature"], headers)
    general = _general(headers)
    if fast is not None:
        assert fast == general
    assert _general(headers) == (
        None if general is None else parse_signature(headers, max_header_bytes=2048)
    )


@given(
    st.sampled_from(["sig1", "b"]),
    st.booleans(),
    st.lists(st.sampled_from(["authorization", "x-request-id"]), unique=True),
    st.from_regex(r"\A[sk]:[A-Za-z0-9_-]{1,64}\Z"),
)
def test_what_the_signer_writes_takes_the_fast_path(
    label: str, typed: bool, extra: list[str], key_id: str
) -> None:
    base = {"Content-Type": "application/json"} if typed else {}
    base.update({name: "v" for name in extra})
    signed = sign_request(
        key_id=key_id,
        secret=b"k" * 32,
        method="POST",
        path="/a",
        headers=base,
        body=b"{}",
        created=1700000000,
        label=label,
        extra=extra,
    )
    headers = combine_headers([*base.items(), *signed.items()])
    fast = _own_shape(headers["signature-input"], headers["signature"], headers)
    assert fast is not None and fast == _parse_general(headers, 2048)


def test_remembered_component_lists_are_bounded() -> None:
    for i in range(MAX_SHAPES + 5):
        assert _covered(f'"@method" "@path" "@query" "content-digest" "x-{i}"') is not None
    assert 0 < len(_covered_lists) <= MAX_SHAPES
    assert _covered('"@method" "@path"') is None  # refused lists are never remembered
    assert '"@method" "@path"' not in _covered_lists


def test_a_signature_without_content_type_coverage_is_refused_on_both_paths() -> None:
    headers = _headers(GOOD, **{"content-type": "application/json"})
    assert _own_shape(headers["signature-input"], headers["signature"], headers) is None
    assert _reason(headers) == "unsupported"
