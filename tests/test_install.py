"""Installing from a clone: without Node.js the wheel is the server extension alone, with a
one-line note; with a prebuilt labextension (as in an sdist) no Node.js is needed at all."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LABEXTENSION_SHARE = "share/jupyter/labextensions/jupyter-fujita/"
SERVER_CONFIG = "etc/jupyter/jupyter_server_config.d/jupyter_fujita.json"


def copy_clone(target: Path, with_prebuilt: bool) -> Path:
    """The files a clone has (tracked or new, not ignored), without node_modules or a build."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listed:
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    if with_prebuilt:
        assert (REPO / "jupyter_fujita/labextension/static/style.js").is_file()
        shutil.copytree(
            REPO / "jupyter_fujita/labextension", target / "jupyter_fujita/labextension"
        )
    return target


def build_wheel_without_node(source: Path, out: Path) -> tuple[subprocess.CompletedProcess, Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_FUJITA")}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv's bin: Python, no npm, no node
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation"]
        + ["-w", str(out), "."],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = out.glob("jupyter_fujita-*.whl")
    return done, wheel


def test_without_node_the_wheel_is_the_server_extension_alone_with_a_one_line_note(tmp_path):
    source = copy_clone(tmp_path / "clone", with_prebuilt=False)
    assert shutil.which("npm", path=str(Path(sys.executable).parent)) is None
    done, wheel = build_wheel_without_node(source, tmp_path / "dist")
    # pip shows a build's output with -v (indented); the hook may run once per build step
    said = {line.strip() for line in done.stderr.splitlines()}
    notes = {line for line in said if line.startswith("jupyter_fujita:")}
    assert notes == {
        "jupyter_fujita: npm (Node.js) was not found: installing the server extension, its API "
        "and %fujita without the JupyterLab sidebar (install Node.js >= 20 and reinstall for it)."
    }
    assert "Traceback" not in done.stderr
    names = zipfile.ZipFile(wheel).namelist()
    assert "jupyter_fujita/extension.py" in names
    assert any(name.endswith(SERVER_CONFIG) for name in names)
    assert not any(LABEXTENSION_SHARE in name for name in names)


def test_a_prebuilt_labextension_is_shipped_without_node(tmp_path):
    source = copy_clone(tmp_path / "clone", with_prebuilt=True)
    done, wheel = build_wheel_without_node(source, tmp_path / "dist")
    assert "jupyter_fujita:" not in done.stderr
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name.endswith(LABEXTENSION_SHARE + "package.json") for name in names)
    assert any(name.endswith(LABEXTENSION_SHARE + "install.json") for name in names)
    assert any(
        name.endswith(LABEXTENSION_SHARE + "schemas/jupyter-fujita/plugin.json") for name in names
    )
    assert any(name.endswith(SERVER_CONFIG) for name in names)


def test_the_server_says_when_the_sidebar_is_not_installed(tmp_path):
    from jupyter_core.paths import jupyter_path

    from jupyter_fujita.extension import labextension_installed

    assert labextension_installed(jupyter_path())  # this dev install has it
    assert not labextension_installed([str(tmp_path)])
    (tmp_path / "labextensions" / "jupyter-fujita").mkdir(parents=True)
    (tmp_path / "labextensions" / "jupyter-fujita" / "package.json").write_text("{}")
    assert labextension_installed([str(tmp_path)])
