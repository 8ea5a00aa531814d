"""The JavaScript signer (``clients/js``) passes its own suite, which checks the same
``vectors.json`` as :mod:`tests.signing.test_vectors`, under Node.js' test runner."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.vectors import DATA_DIR

JS = Path(__file__).resolve().parents[2] / "clients" / "js"


def test_js_signer_suite_passes_under_node() -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is required in CI (apt-get install -y nodejs)")
        pytest.skip("node is not installed; the JavaScript signer's tests did not run")
    env = {**os.environ, "BASTION_SHARED_DATA": str(DATA_DIR)}
    result = subprocess.run(
        [node, "--test", "test/"],
        cwd=JS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# skipped 0" in result.stdout
