"""Helpers for executing notebooks in tests: a kernel on this interpreter, their printed text."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import nbformat


def kernel_manager(tmp_path: Path) -> Any:  # jupyter_client.KernelManager
    """A kernel manager whose only ``python3`` kernel runs the test's own interpreter.

    Without it nbclient could pick a ``python3`` kernel from the user's Jupyter folders.
    """
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = tmp_path / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "accesslake test kernel",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
    return KernelManager(kernel_name="python3", kernel_spec_manager=specs)


def output_text(notebook: nbformat.NotebookNode) -> str:
    """Everything the executed notebook printed or displayed as text."""
    out = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            out.append(output.get("text", ""))
            out.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(out)
