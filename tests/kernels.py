"""A real IPython kernel driven cell by cell (nbclient), for the notebook faces' tests."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient
from waiting import wait_until


class Kernel:
    """Runs code in a real kernel; the kernel is idle between two run() calls."""

    def __init__(self, cwd: Path) -> None:
        self.notebook = nbformat.v4.new_notebook()
        self.client = NotebookClient(self.notebook, kernel_name="python3", timeout=90)
        self.client.km = self.client.create_kernel_manager()
        self.client.start_new_kernel(cwd=str(cwd))
        self.client.start_new_kernel_client()

    def run(self, code: str) -> str:
        """The cell's text output (streams, results, errors) as one string."""
        cell = nbformat.v4.new_code_cell(code)
        self.notebook.cells.append(cell)
        self.client.execute_cell(cell, len(self.notebook.cells) - 1)
        return cell_text(cell)

    def wait_for(self, condition: str, timeout: float = 30.0) -> None:
        """Poll an expression in the kernel, with the kernel idle between polls; a timeout says
        what the kernel last answered (False, or the error the expression raised)."""
        answer = ""

        def holds() -> bool:
            nonlocal answer
            answer = self.run(f"print(bool({condition}))").strip()
            return answer == "True"

        wait_until(holds, timeout, f"{condition} in the kernel", seen=lambda: answer)

    def shutdown(self) -> None:
        self.client._cleanup_kernel()


def cell_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] in ("execute_result", "display_data"):
            parts.append(output["data"].get("text/plain", "") + "\n")
        elif output["output_type"] == "error":
            parts.append("\n".join(output["traceback"]))
    return "".join(parts)
