"""``bastion scan`` on the command line: safety refusal, exit codes for CI, report files, and
Ctrl-C writing the partial report (exit 130)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bastion.cli import app

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def scan_in_process(*args: str) -> Any:
    return CliRunner().invoke(app, ["scan", *args])


def test_a_host_not_owned_is_refused_before_any_request() -> None:
    done = scan_in_process("https://staging.example.com")
    assert done.exit_code == 2
    assert "--allow-host staging.example.com" in " ".join(done.stderr.split())


@pytest.mark.parametrize(
    "args",
    [("--format", "pdf"), ("--fail-on", "severe"), ("--password-env", "BSCAN_UNSET_VARIABLE")],
)
def test_bad_usage_exits_2(args: tuple[str, ...]) -> None:
    assert scan_in_process("http://127.0.0.1:1", *args).exit_code == 2


def test_fail_on_sets_the_exit_code(vulnerable: Callable[..., Any], tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    flaws = {"headers.nosniff", "exposure.git"}  # low and high
    with vulnerable(flaws) as (url, _):
        args = (url, "--only", "headers", "--only", "exposure", "--no-register")
        high = scan_in_process(*args, "--format", "json", "-o", str(report), "--fail-on", "high")
        critical = scan_in_process(*args, "--fail-on", "critical")
    assert high.exit_code == 1, high.stderr
    assert critical.exit_code == 0, critical.stderr
    assert "exposure.git" in critical.stdout  # the terminal table
    document = json.loads(report.read_text())
    assert {f["check_id"] for f in document["findings"]} == flaws
    assert "It never deletes anything" in high.stderr  # the banner


def test_ctrl_c_writes_the_partial_report(vulnerable: Callable[..., Any], tmp_path: Path) -> None:
    report = tmp_path / "partial.json"
    with vulnerable({"headers.csp"}) as (url, _):
        process = subprocess.Popen(
            [sys.executable, "-m", "bastion", "scan", url, "--rate", "2", "--format", "json",
             "-o", str(report), "--no-register"],
            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert "bastion scan" in banner
        time.sleep(3)  # let a few paced requests go out (2 per second)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 130
    document = json.loads(report.read_text())
    assert document["interrupted"] is True and document["complete"] is False
    assert 1 <= document["requests"]["sent"] <= 10
    assert any(
        c["status"] == "not-run" and c["reason"] == "interrupted" for c in document["checks"]
    )
