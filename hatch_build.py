"""Build hook: ship the JupyterLab extension when it can be had, and install without it otherwise.

The sidebar is TypeScript, built with Node.js (npm) by the `jupyter-builder` hook that runs after
this one. Without npm on PATH (or with JUPYTER_FUJITA_SERVER_ONLY=1), and no prebuilt extension
in the tree (an sdist carries one), the package installs as the server extension, the REST API and
`%fujita` only, and says so in one line, instead of failing after a long build traceback.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LABEXTENSION = "jupyter_fujita/labextension"
PREBUILT = f"{LABEXTENSION}/static/style.js"
SHARE = "share/jupyter/labextensions/jupyter-fujita"


class ServerOnlyWithoutNode(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        asked = os.environ.get("JUPYTER_FUJITA_SERVER_ONLY", "") not in ("", "0")
        prebuilt = (root / PREBUILT).is_file()
        if asked or (shutil.which("npm") is None and not prebuilt):
            why = "JUPYTER_FUJITA_SERVER_ONLY is set" if asked else "npm (Node.js) was not found"
            print(
                f"jupyter_fujita: {why}: installing the server extension, its API and %fujita "
                "without the JupyterLab sidebar (install Node.js >= 20 and reinstall for it).",
                file=sys.stderr,
            )
            os.environ["SKIP_JUPYTER_BUILDER"] = "1"  # read by the jupyter-builder hook next
            return
        if shutil.which("npm") is None:
            os.environ["SKIP_JUPYTER_BUILDER"] = "1"  # the prebuilt extension is shipped as is
        build_data["shared_data"][LABEXTENSION] = SHARE
        if not (root / LABEXTENSION / "install.json").is_file():  # (a develop symlink writes one)
            build_data["shared_data"]["install.json"] = f"{SHARE}/install.json"
