"""The ``accesslake`` command line: argument parsing and output only.

Every command calls a library function that the Prefect flows and the notebooks
call too. One module per command group (:mod:`.ingest`, :mod:`.lake`,
:mod:`.analytics`, :mod:`.forensics`, :mod:`.messages`, :mod:`.demo`); the
parser, dispatch, errors, exit codes and each command's ``--help`` example are in
:mod:`.app`; all output goes through :mod:`.output` (tables with ``rich``), query
results through :mod:`.results` (table, CSV, JSON, Markdown), the text of ``stats``
through :mod:`.stats`, and progress on a terminal through :mod:`.progress`.
"""

from __future__ import annotations

from accesslake.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
