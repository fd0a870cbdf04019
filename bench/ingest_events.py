"""Benchmark: ingest throughput of the `events` job (rows read per second), one Spark session.

    .venv/bin/python -m bench.ingest_events --users 20000 --days 7

Generates synthetic landing days (include/demo/generate_events/) into a temporary folder,
runs the `events` group (`jobs.pipeline.run`) for each day in order, and prints per-day and total
figures. The first day includes JVM/GX warm-up and is reported separately.
Record results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from include.demo.generate_events import generate_events
from include.pulse.config import PulseConfig
from include.pulse.spark import get_spark
from jobs import pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args()
    start = date(2024, 3, 1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        manifest = generate_events(
            root / "landing", users=args.users, days=args.days, start_date=start
        )
        print(f"generated {manifest['totals']['rows']} rows in {time.perf_counter() - t0:.1f}s")
        config = PulseConfig.from_env(
            {
                **{k: v for k, v in os.environ.items() if k.startswith("PULSE_")},
                "PULSE_LANDING_URI": str(root / "landing"),
                "PULSE_WAREHOUSE_URI": str(root / "wh"),
            }
        )
        spark = get_spark(args.master, app_name="pulse-bench")
        figures = []
        for offset in range(args.days):
            day = start + timedelta(days=offset)
            t0 = time.perf_counter()
            report = pipeline.run(spark, config, "events", day)
            seconds = time.perf_counter() - t0
            figures.append((day, report["rows_read"], seconds))
            print(
                f"{day}  rows {report['rows_read']:>8}  {seconds:6.1f}s  "
                f"{report['rows_read'] / seconds:8.0f} rows/s"
            )
        spark.stop()
    steady = figures[1:] or figures
    rows, seconds = sum(f[1] for f in steady), sum(f[2] for f in steady)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    rate = rows / seconds
    print(f"steady state (days 2..{args.days}): {rows} rows in {seconds:.1f}s = {rate:.0f} rows/s")


if __name__ == "__main__":
    main()
