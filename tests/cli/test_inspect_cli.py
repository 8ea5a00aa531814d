"""``bastion inspect --jsonl``: one verdict line per input line, in order, malformed lines too."""

from __future__ import annotations

import json
from typing import Any

import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bastion.cli._inspect import inspect, verdict_line


def run(stdin: bytes, *args: str) -> tuple[int, list[dict[str, Any]]]:
    app = typer.Typer()
    app.command()(inspect)
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, [json.loads(x) for x in result.stdout.splitlines()]


def test_verdicts_in_order() -> None:
    """ASVS V2.2.1: every input gets a verdict in input order (monitoring layer only)."""
    lines = [
        {"input": "1' OR '1'='1"},
        {"input": "O'Brien"},
        {"input": "<script>alert(1)</script>"},
    ]
    code, out = run("".join(json.dumps(x) + "\n" for x in lines).encode(), "--jsonl")
    assert code == 0
    assert [v["attack"] for v in out] == [True, False, True]
    assert "sqli" in out[0]["kinds"] and "xss" in out[2]["kinds"]
    assert all(set(v) == {"attack", "kinds", "score"} for v in out)


def test_malformed_lines_get_unreadable_verdicts() -> None:
    stdin = b'not json\n{"no_input": 1}\n[1]\n{"input": 5}\n\xff\xfe\n\n{"input": "ok"}'
    code, out = run(stdin, "--jsonl")
    assert code == 0
    assert len(out) == 7
    assert out[:6] == [{"attack": False, "kinds": ["unreadable"], "score": 0.0}] * 6
    assert out[6] == {"attack": False, "kinds": [], "score": 0.0}


def test_jsonl_flag_required() -> None:
    app = typer.Typer()
    app.command()(inspect)
    result = CliRunner().invoke(app, [], input=b"")
    assert result.exit_code != 0


@settings(deadline=None)
@given(st.text(max_size=300))
def test_any_line_gets_one_verdict(line: str) -> None:
    verdict = json.loads(verdict_line(line))
    assert set(verdict) == {"attack", "kinds", "score"}
