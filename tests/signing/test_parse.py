"""Signature-Input / Signature parsing: the accepted profile and every refusal (malformed,
oversize, unknown alg, missing parameters, truncated MAC: ASVS V11.4.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.errors import InvalidSignature
from bastion.signing import parse_signature
from bastion.signing._parse import _fast_member
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
