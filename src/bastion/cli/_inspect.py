"""``bastion inspect --jsonl``: score inputs offline, one verdict line per input line.

Reads stdin line by line; each line is a JSON object with a string field ``input``. Writes one
line ``{"attack": bool, "kinds": [...], "score": float}`` per input line, in the same order.
A line that is not such an object (bad JSON, no ``input``, not a string, undecodable bytes)
still gets a verdict: ``{"attack": false, "kinds": ["unreadable"], "score": 0.0}``.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Annotated, Any

import typer

from bastion.inspect import inspect_value

__all__ = ["inspect", "verdict_line"]

UNREADABLE: dict[str, Any] = {"attack": False, "kinds": ["unreadable"], "score": 0.0}


def verdict_line(line: str) -> str:
    """The verdict for one input line, as a JSON line without newline. Never raises."""
    try:
        row = json.loads(line)
    except ValueError:
        return json.dumps(UNREADABLE)
    if not isinstance(row, dict) or not isinstance(row.get("input"), str):
        return json.dumps(UNREADABLE)
    return json.dumps(inspect_value(row["input"]).as_dict())


def inspect(
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="Read JSON lines with an `input` field on stdin.")
    ] = False,
) -> None:
    """Score inputs for injection attempts.

    Example: echo '{"input": "1 OR 1=1"}' | bastion inspect --jsonl
    """
    if not jsonl:
        raise typer.BadParameter("only --jsonl input is supported", param_hint="--jsonl")
    stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
    out = sys.stdout
    for raw in stream:
        line = raw.rstrip("\r\n")
        out.write(verdict_line(line) + "\n")
    out.flush()
