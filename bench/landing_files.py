"""Benchmark: the landing reader on a day of many small files (prints figures).

    PYTHONPATH=$PWD PYSPARK_PYTHON=$PWD/.venv/bin/python \
        .venv/bin/python bench/landing_files.py --files 10000 --rows-per-file 5 \
        --baseline 589a35f~1 --baseline-files 200

Writes `--files` small landing files (alternately CSV and JSON lines; the CSV files under two
different headers, as two exporting tools would write them) of `--rows-per-file` rows each in a
temporary folder, then, in one warm `--master` session (a small day is read first, unmeasured):

1. `read_landing_day(spark, list_landing_day(folder)).count()`: listing and the Python peeks
   (gzip, CSV headers, parquet footers) timed apart from the Spark count; then a pass that
   builds every record's fields map (`sum(size(fields))`), which a count may prune away.
2. With `--baseline REV`: the reader as of git revision REV (`include/pulse/landing.py` loaded
   from `git show`), and the current one, on a day of `--baseline-files` files of the same kind
   (the old reader ran a Spark job or two per CSV file: 10,000 files would take hours).

Prints files, rows, seconds and rows/s per measurement, and whether the rows counted are the
rows written. Nothing is written outside the temporary folder (`--keep` keeps it). Record
results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: `python bench/landing_files.py`
    sys.path.insert(0, str(REPO))

# Two exporting tools, two headers (and so two CSV reads); the JSON lines use a third naming.
CSV_HEADERS = (
    ("user_id", "event_name", "timestamp", "session_id", "country"),
    ("customer_id", "event", "created_at", "platform"),
)


def write_day(folder: Path, files: int, rows_per_file: int) -> int:
    """`files` small files, alternately JSON lines and CSV; returns the rows written."""
    folder.mkdir(parents=True)
    for i in range(files):
        rows = [
            (f"u{(i * rows_per_file + j) % 997}", "app_opened", f"2024-03-13T{j % 24:02d}:00:00Z")
            for j in range(rows_per_file)
        ]
        if i % 2 == 0:
            lines = (
                json.dumps({"userid": u, "event_name": e, "event_time": t, "n": str(i)})
                for u, e, t in rows
            )
            (folder / f"part-{i:05d}.jsonl").write_text("".join(line + "\n" for line in lines))
        else:
            header = CSV_HEADERS[(i // 2) % len(CSV_HEADERS)]
            with (folder / f"part-{i:05d}.csv").open("w", newline="") as stream:
                writer = csv.writer(stream)
                writer.writerow(header)
                for u, e, t in rows:
                    writer.writerow([u, e, t, "s1", "FR"][: len(header)])
    return files * rows_per_file


def load_reader(revision: str | None) -> types.ModuleType:
    """`include/pulse/landing.py` now, or as of a git revision."""
    if revision is None:
        from include.pulse import landing

        return landing
    source = subprocess.run(
        ["git", "show", f"{revision}:include/pulse/landing.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType(f"landing_at_{revision}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:include/pulse/landing.py", "exec"), module.__dict__)
    return module


def measure(spark: Any, reader: types.ModuleType, folder: Path, label: str, rows: int) -> None:
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    day = reader.list_landing_day(folder)
    frame = reader.read_landing_day(spark, day)  # the Python peeks run here
    t1 = time.perf_counter()
    counted = frame.count()
    t2 = time.perf_counter()
    report(label, len(day.files), counted, t2 - t0, f"listing + peeks + plan {t1 - t0:.1f} s")
    if counted != rows:
        print(f"  ROWS DIFFER: {counted} counted, {rows} written")
    t3 = time.perf_counter()
    frame = reader.read_landing_day(spark, reader.list_landing_day(folder))
    entries = frame.select(F.sum(F.size("fields"))).first()[0]
    report(f"{label}, every fields map built", len(day.files), rows, time.perf_counter() - t3)
    print(f"  map entries: {entries}")


def report(label: str, files: int, rows: int, seconds: float, note: str = "") -> None:
    rate = rows / seconds if seconds else float("nan")
    extra = f" ({note})" if note else ""
    print(f"{label}: {files:,} files, {rows:,} rows, {seconds:.1f} s, {rate:,.0f} rows/s{extra}")


def print_machine(master: str) -> None:
    import pyspark

    print(
        f"machine: {os.cpu_count()} cpus, {platform.platform()}, python"
        f" {platform.python_version()}, pyspark {pyspark.__version__}, master {master}"
    )
    print(f"date: {datetime.now().astimezone().isoformat(timespec='seconds')}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rows-per-file", type=int, default=5)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--baseline", metavar="REV", help="also time the reader of this revision")
    parser.add_argument("--baseline-files", type=int, default=200, help="files for --baseline")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    from include.pulse.spark import get_spark

    print_machine(args.master)
    root = Path(tempfile.mkdtemp(prefix="pulse-bench-landing-"))
    print(f"temporary folder: {root}")
    spark = get_spark(args.master, app_name="pulse-bench-landing-files")
    try:
        current = load_reader(None)
        warm = root / "warm" / "dt=2024-03-12"
        warm_rows = write_day(warm, 20, min(args.rows_per_file, 5))
        current.read_landing_day(spark, current.list_landing_day(warm)).count()
        print(f"warm-up: {warm_rows:,} rows read (not measured)")

        many = root / "many" / "dt=2024-03-13"
        rows = write_day(many, args.files, args.rows_per_file)
        measure(spark, current, many, "current reader", rows)

        if args.baseline:
            few = root / "few" / "dt=2024-03-13"
            rows = write_day(few, args.baseline_files, args.rows_per_file)
            old = load_reader(args.baseline)
            measure(spark, old, few, f"reader at {args.baseline}", rows)
            measure(spark, current, few, "current reader", rows)
        print_machine(args.master)
    finally:
        spark.stop()
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
