"""The labextension's TypeScript passes its linter and the type checker, and ships in the package."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LABEXTENSION = ROOT / "labextension"


def npm(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["npm", "run", "--silent", script],
        cwd=LABEXTENSION,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("script", ["lint", "typecheck"])
def test_typescript_passes(script):
    assert shutil.which("npm"), "npm is needed to check the labextension"
    assert (LABEXTENSION / "node_modules").is_dir(), (
        "run pip install -e . first (it runs npm install)"
    )
    result = npm(script)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_built_extension_is_installed_where_jupyterlab_looks():
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    listing = result.stdout + result.stderr
    line = next(l for l in listing.splitlines() if "jupyter-fujita" in l)
    assert "enabled" in line and "OK" in line
    built = json.loads((ROOT / "jupyter_fujita" / "labextension" / "package.json").read_text())
    assert built["name"] == "jupyter-fujita"
