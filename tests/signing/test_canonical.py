"""The canonical request: query order, header combination, covered values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.errors import InvalidSignature
from bastion.signing import SignedRequest, canonical_query, combine_headers, signature_base

names = st.sampled_from(["a", "b", "c", "tag", "z%20"])
pairs = st.lists(st.tuples(names, st.from_regex(r"\A[a-z0-9%]{0,4}\Z")), max_size=8)


def _query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in params)


@given(pairs, st.randoms())
def test_reordering_distinct_names_keeps_the_canonical_query(
    params: list[tuple[str, str]], rnd: object
) -> None:
    by_name: dict[str, list[str]] = {}
    for k, v in params:
        by_name.setdefault(k, []).append(v)
    groups = list(by_name.items())
    rnd.shuffle(groups)  # type: ignore[attr-defined]
    shuffled = [(k, v) for k, vs in groups for v in vs]
    assert canonical_query(_query(shuffled)) == canonical_query(_query(params))


def test_values_of_one_name_keep_their_order() -> None:
    assert canonical_query("tag=b&z=1&tag=a") == "?tag=b&tag=a&z=1"
    assert canonical_query("tag=b&tag=a") != canonical_query("tag=a&tag=b")
    assert canonical_query("") == "?"
    assert canonical_query("a") == "?a"


def test_headers_combine_like_rfc_9421() -> None:
    combined = combine_headers([(b"X-A", b" one "), (b"x-a", b"two"), ("Content-Type", "text/x")])
    assert combined == {"x-a": "one, two", "content-type": "text/x"}


def test_signature_base_layout() -> None:
    request = SignedRequest("GET", "", "", {"content-digest": "d"})
    base = signature_base(request, ["@method", "@path", "@query", "content-digest"], "()")
    assert base == (
        b'"@method": GET\n"@path": /\n"@query": ?\n"content-digest": d\n"@signature-params": ()'
    )


@pytest.mark.parametrize(
    ("component", "headers", "reason"),
    [
        ("x-absent", {}, "bad_signature"),
        ("signature", {"signature": "x"}, "bad_signature"),
        ("x-bad", {"x-bad": "a\nb"}, "malformed"),
        ("x-bad", {"x-bad": "caf\u00e9"}, "malformed"),
    ],
)
def test_uncoverable_values(component: str, headers: dict[str, str], reason: str) -> None:
    request = SignedRequest("GET", "/", "", headers)
    with pytest.raises(InvalidSignature) as caught:
        request.value(component)
    assert caught.value.reason == reason
    with pytest.raises(InvalidSignature) as caught:
        signature_base(request, ["@method", component], "()")
    assert caught.value.reason == reason


def test_signature_base_takes_any_iterable_of_components() -> None:
    request = SignedRequest("GET", "/a", "b=1", {"x": "y"})
    names = ["@method", "@path", "@query", "x"]
    base = signature_base(request, iter(names), "()")
    assert base == signature_base(request, tuple(names), "()")
    assert base.decode().splitlines()[:-1] == [f'"{n}": {request.value(n)}' for n in names]
