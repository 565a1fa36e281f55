"""jupyter_fujita: run and watch a Django development server from Jupyter.

Importing the package is cheap: the server extension, the magic and the panel are loaded only
when asked for, so a kernel does not import jupyter_server and a server does not import
ipywidgets.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["FujitaPanel", "load_ipython_extension"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .extension import Fujita

    return [{"module": "jupyter_fujita", "app": Fujita}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-fujita"}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_fujita` registers the %fujita magic."""
    from .magic import FujitaMagics

    ipython.register_magics(FujitaMagics)


def __getattr__(name: str) -> Any:
    if name == "FujitaPanel":
        from .widget import FujitaPanel

        return FujitaPanel
    raise AttributeError(f"module 'jupyter_fujita' has no attribute {name!r}")
