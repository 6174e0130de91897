"""The command line of ``python -m flows.<name>``: run a flow once (a temporary Prefect server unless
``PREFECT_API_URL`` is set), with the options every flow takes."""

from __future__ import annotations

import argparse
import os

from accesslake.config import DEFAULT_LAKE

__all__ = ["once_parser"]


def once_parser(what: str) -> argparse.ArgumentParser:
    """A parser with ``--lake``, ``--now`` and ``--policy``; ``what``: the flow, as in "the nightly flow"."""
    parser = argparse.ArgumentParser(description=f"Run {what} once (a temporary Prefect server unless "
                                                 "PREFECT_API_URL is set).")
    parser.add_argument("--lake", default=os.environ.get("ACCESSLAKE_LAKE", str(DEFAULT_LAKE)))
    parser.add_argument("--now", help="ISO-8601 clock (default $ACCESSLAKE_NOW, else now)")
    parser.add_argument("--policy", help="policy file (default <lake>/policy.toml)")
    return parser
