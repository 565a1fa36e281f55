"""jupyter_fujita: run and watch a Django development server from Jupyter.

The server extension is loaded lazily, so that importing this package (in a kernel, say) does
not import jupyter_server.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .extension import Fujita

    return [{"module": "jupyter_fujita", "app": Fujita}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-fujita"}]
