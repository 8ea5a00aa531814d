"""Property tests: inspection never raises and stays bounded on arbitrary input."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.inspect import Verdict, inspect_fields, inspect_json, inspect_value

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=40,
)


def check(v: Verdict) -> None:
    assert isinstance(v.attack, bool)
    assert v.score >= 0.0
    assert v.attack == (v.score >= 5.0)


@settings(deadline=None)
@given(st.text(max_size=2000))
def test_arbitrary_text_never_raises(text: str) -> None:
    check(inspect_value(text))
    check(inspect_value(text, rich_text=True))


@settings(deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    check(inspect_value(data.decode("utf-8", errors="replace")))


@settings(deadline=None)
@given(json_values)
def test_arbitrary_json_never_raises(doc: Any) -> None:
    check(inspect_json(doc, rich_text_fields=("body",)))
    check(inspect_json(json.loads(json.dumps(doc, allow_nan=True))))


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=2000))
def test_deeply_nested_json_never_raises(depth: int) -> None:
    doc: Any = "x"
    for i in range(depth):
        doc = [doc] if i % 2 else {"k": doc}
    check(inspect_json(doc))


FRAGMENTS = ["'", "%25", "(", "a ", "/*", "<a ", "../", "{{", "or 1=", "\n", "\n\t", "\x00\n", "; "]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(FRAGMENTS), st.sampled_from(FRAGMENTS))
def test_pathological_repetition_is_fast(a: str, b: str) -> None:
    """ReDoS guard: 8 KiB of a repeated fragment pair inspects in well under a second."""
    text = (a + b) * 5000
    start = time.perf_counter()
    check(inspect_value(text))
    assert time.perf_counter() - start < 1.0


@settings(deadline=None)
@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=200)), max_size=10))
def test_arbitrary_fields_never_raise(pairs: list[tuple[str, str]]) -> None:
    check(inspect_fields(pairs, rich_text_fields=("body",)))
