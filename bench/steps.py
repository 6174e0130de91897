"""One benchmark step, run in its own process by ``bench/run.py``.

    python bench/steps.py STEP '{"lake": ..., ...}'

prints one JSON object on its last line of output: ``seconds`` (the timed
call only: imports, Python start-up and setup are outside it), ``items``
(what the throughput counts: lines, rows) and step-specific counts. The
parent reads the process's peak memory and CPU time from ``wait4``, so every
step runs alone in a fresh interpreter and its ``ru_maxrss`` is its own.

Steps: ``generate`` (the log), ``ingest``, ``marts``, ``anonymize``, ``nightly`` (accesslake) and
``floor`` (the PyArrow rewrite floor: read each requests file, null the
client IP, write it back crash-safely, as anonymisation must).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

Result = dict[str, Any]


def _settings(lake: str) -> Any:
    from accesslake.config import Settings
    from accesslake.storage import lake_root

    return Settings(lake=lake_root(lake))  # a folder or s3://bucket/prefix (bench/s3.py)


def _format(args: dict[str, Any]) -> str:
    from accesslake.demo.loggen import DEMO_FORMAT

    return str(args.get("format", DEMO_FORMAT))


def generate(args: dict[str, Any]) -> Result:
    from accesslake.demo.loggen import generate_log

    start = time.perf_counter()
    result = generate_log(Path(args["log"]), now=datetime.fromisoformat(args["now"]), days=1,
                          lines=int(args["lines"]), seed=42)
    return {"seconds": time.perf_counter() - start, "items": result.lines}


def ingest(args: dict[str, Any]) -> Result:
    from accesslake.ingest import ingest_file
    from accesslake.storage import writer_lock

    settings = _settings(args["lake"])
    now = datetime.fromisoformat(args["now"])
    start = time.perf_counter()
    with writer_lock(settings.lake):
        result = ingest_file(Path(args["log"]), settings, now, site=args["site"], fmt=_format(args),
                             cookie=args["cookie"])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "items": result.lines_read, "rows": result.rows, "rejects": result.rejects,
            "files": len(result.files)}


def marts(args: dict[str, Any]) -> Result:
    from accesslake.analytics.marts import build_marts, input_files
    from accesslake.storage import parquet_metadata, writer_lock

    settings = _settings(args["lake"])
    day = date.fromisoformat(args["day"])
    rows = sum(parquet_metadata(p).num_rows for p in input_files(settings.lake, args["site"], day))
    start = time.perf_counter()
    with writer_lock(settings.lake):
        result = build_marts(settings, datetime.fromisoformat(args["now"]), days=[(args["site"], day)])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "items": rows, "files": result.files_written}


def anonymize(args: dict[str, Any]) -> Result:
    from accesslake.retention import run_retention as run
    from accesslake.storage import writer_lock

    settings = _settings(args["lake"])
    start = time.perf_counter()
    with writer_lock(settings.lake):
        result = run(settings, datetime.fromisoformat(args["now"]))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "items": result.rows_anonymized, "files": result.files_rewritten}


def nightly(args: dict[str, Any]) -> Result:
    from accesslake.pipeline import NightlyOptions, run_nightly

    settings = _settings(args["lake"])
    start = time.perf_counter()
    result = run_nightly(settings, datetime.fromisoformat(args["now"]),
                         NightlyOptions(site=args["site"], fmt=_format(args), cookie=args["cookie"]))
    seconds = time.perf_counter() - start
    audit_ok = result.audit is not None and result.audit.ok
    return {"seconds": seconds, "items": sum(r.lines_read for r in result.ingested),
            "marts_days": len(result.marts.built) if result.marts else 0, "audit_ok": audit_ok}


def floor(args: dict[str, Any]) -> Result:
    """Read -> null ``client_ip`` -> write (zstd, as the lake) -> fsync -> rename, per requests file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(Path(args["lake"], "requests").rglob("*.parquet"))
    rows = 0
    start = time.perf_counter()
    for path in files:
        table = pq.read_table(path)
        index = table.schema.get_field_index("client_ip")
        field = table.schema.field(index)
        table = table.set_column(index, field, pa.nulls(table.num_rows, field.type))
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(table, tmp, compression="zstd")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        rows += table.num_rows
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "items": rows, "files": len(files)}


STEPS: dict[str, Callable[[dict[str, Any]], Result]] = {
    "generate": generate, "ingest": ingest, "marts": marts, "anonymize": anonymize, "nightly": nightly, "floor": floor,
}


def main(argv: list[str]) -> None:
    step, args = argv[0], json.loads(argv[1])
    print(json.dumps(STEPS[step](args)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
