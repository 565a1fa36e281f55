"""The Python passes ruff's lint and is formatted as ruff formats it."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]])
def test_python_is_clean(args):
    paths = ["jupyter_fujita", "tests", "docs", "bench"]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *args, *paths], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
