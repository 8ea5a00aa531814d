"""The gate's inspection of the query string and headers: the cached verdicts (per query
string, per query string and ``User-Agent``) agree with scoring every field in one pass."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion._gate_inputs import _cookies, _worst, inspect_inputs
from bastion.inspect import Verdict, inspect_fields

ATTACKS = [
    "1' OR '1'='1",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "; cat /etc/shadow",
    "{{7*7}}",
    "%253Cscript%253E",
]
WORDS = st.sampled_from(["open", "2", "", "a b", "O'Brien", "x=y", "%41", "$ne", *ATTACKS])
PAIRS = st.lists(st.tuples(WORDS, WORDS), max_size=6)


def _reference(
    query: str, headers: Mapping[str, str], rich_text: Iterable[str] = ()
) -> Verdict | None:
    """Every field scored in one pass, as the gate did before any verdict was cached."""
    fields: list[tuple[str, str]] = []
    if query:
        fields.extend(parse_qsl(query, keep_blank_values=True))
    cookie = headers.get("cookie")
    if cookie:
        fields.extend(_cookies(cookie))
    referer = headers.get("referer")
    if referer:
        fields.append(("referer", referer))
    agent = headers.get("user-agent")
    verdict = inspect_fields((("user-agent", agent),)) if agent else None
    if not fields:
        return verdict
    return _worst(verdict, inspect_fields(fields, rich_text_fields=rich_text))


def _query(pairs: list[tuple[str, str]], joiner: str) -> str:
    return joiner.join(f"{k}={v}" if v else k for k, v in pairs)


@settings(deadline=None)  # the first example compiles the inspection prefilter
@given(
    pairs=PAIRS,
    joiner=st.sampled_from(["&", "&&", ";"]),
    agent=st.none() | WORDS,
    cookie=st.none() | PAIRS.map(lambda p: "; ".join(f"{k}={v}" for k, v in p)),
    referer=st.none() | WORDS,
    rich=st.sampled_from([(), ("q",), ("", "open")]),
)
def test_cached_verdicts_agree_with_one_pass(
    pairs: list[tuple[str, str]],
    joiner: str,
    agent: str | None,
    cookie: str | None,
    referer: str | None,
    rich: tuple[str, ...],
) -> None:
    headers = {
        name: value
        for name, value in (("user-agent", agent), ("cookie", cookie), ("referer", referer))
        if value is not None
    }
    query = _query(pairs, joiner)
    expected = _reference(query, headers, rich)
    assert inspect_inputs(query, headers, rich) == expected
    assert inspect_inputs(query, headers, rich) == expected  # and again, from the caches
    assert inspect_inputs(query, headers, list(rich)) == expected  # a list is not cached


def test_long_queries_and_many_cookies_take_the_one_pass() -> None:
    long_query = "&".join(f"p{i}=v{i}" for i in range(60)) + "&q=1' OR '1'='1"
    cookies = "; ".join(f"c{i}=v" for i in range(10_000))
    for query, headers in [
        (long_query, {"user-agent": "curl/8"}),
        ("a=1&b=2", {"cookie": cookies}),
        ("a=1", {"user-agent": "x" * 600}),
    ]:
        assert inspect_inputs(query, headers, ()) == _reference(query, headers, ())
    oversized = inspect_inputs("a=1&b=2", {"cookie": cookies}, ())
    assert oversized is not None and "oversized" in oversized.kinds


def test_an_attack_in_the_query_blocks_with_or_without_a_user_agent() -> None:
    for headers in ({}, {"user-agent": "Mozilla/5.0"}):
        verdict = inspect_inputs("next=%3Csvg%20onload%3Dalert(1)%3E", headers, ())
        assert verdict is not None and verdict.attack and "xss" in verdict.kinds
    assert inspect_inputs("", {}, ()) is None
    assert inspect_inputs("&&", {"user-agent": "Mozilla/5.0"}, ()) == _reference(
        "&&", {"user-agent": "Mozilla/5.0"}
    )
