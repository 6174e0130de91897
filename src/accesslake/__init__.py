"""accesslake: web access logs to a privacy-preserving Parquet lake.

The package is the library; the CLI (:mod:`accesslake.cli`), the Prefect flows
(``flows/``) and the notebooks all call the same functions. Nothing here
imports Prefect.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
