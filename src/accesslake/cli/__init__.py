"""The ``accesslake`` command line: argument parsing and output only.

Every command calls a library function that the Prefect flows and the notebooks
call too. One module per command group (:mod:`.ingest`, :mod:`.lake`,
:mod:`.analytics`, :mod:`.forensics`, :mod:`.messages`, :mod:`.demo`); the
parser, dispatch, errors and exit codes are in :mod:`.app`; all output goes
through :mod:`.output`.
"""

from __future__ import annotations

from accesslake.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
