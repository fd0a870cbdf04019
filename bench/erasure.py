"""Benchmark: erasing users from the raw tables (`jobs/erasure.py`: find, rewrite, `events`).

    .venv/bin/python -m bench.erasure                   # 100 users, 90 days x 100k events
    .venv/bin/python -m bench.erasure --events-per-day 20000 --days 30 --erase 10

Synthetic `landed_events` and `events` (one arrival per event date, each event once) are written
straight into a temporary warehouse with `spark.range` and hashes: --users users, each event's
user drawn uniformly. Then --erase of them are erased and the raw part is timed: `find` (pyarrow,
four columns of every landed partition), `rewrite_raw` (the landed partitions holding their
rows) and `rebuild_events` (the dates they touched, with the ingest's de-duplication), each
partition published atomically. The bytes rewritten are the new files' sizes against the
tables' total. The marts' rebuild is the runner's, as for a late event on those dates (see the
nightly figures); it is not timed here. Record results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from pyspark.sql import functions as F

from include.pulse.config import PulseConfig
from include.pulse.spark import get_spark
from include.pulse.warehouse import Warehouse
from jobs import erasure as erasure_job
from jobs.events.schema import EVENT_COLUMNS
from jobs.landed_events.schema import SCHEMA as LANDED_SCHEMA

FIRST_DAY = date(2024, 1, 1)


def write_tables(spark, root: Path, users: int, days: int, per_day: int) -> int:
    """Synthetic `landed_events` and `events` partitions; the number of events."""
    n = F.col("id")
    day = (n % days).cast("int")
    user = F.pmod(F.xxhash64(n, F.lit(7)), F.lit(users))
    start = F.to_timestamp(F.lit(f"{FIRST_DAY} 00:00:00"))
    rows = spark.range(days * per_day).select(
        F.concat(F.lit("evt-"), n.cast("string")).alias("event_id"),
        F.concat(F.lit("user-"), user.cast("string")).alias("user_id"),
        F.lit("page_view").alias("event_name"),
        (start + F.make_interval(days=day, secs=F.pmod(n, F.lit(86_000)))).alias("event_ts"),
        F.concat(F.lit("s-"), user.cast("string"), F.lit("-"), day.cast("string")).alias(
            "session_id"
        ),
        F.lit("web").alias("platform"),
        F.lit(None).cast("string").alias("account_id"),
        F.lit("organic").alias("channel"),
        F.lit("free").alias("plan"),
        F.concat(F.lit('{"page":"/p'), F.pmod(n, F.lit(50)).cast("string"), F.lit('"}')).alias(
            "properties"
        ),
        F.lit("events.jsonl").alias("source_file"),
        F.date_add(F.lit(FIRST_DAY), day).alias("arrival_date"),
        F.date_add(F.lit(FIRST_DAY), day).alias("event_date"),
        F.concat(F.lit("evt-"), n.cast("string")).alias("dedup_key"),
    )
    landed = rows.select(*[F.col(f.name).cast(f.dataType) for f in LANDED_SCHEMA.fields])
    (
        landed.repartition("event_date")
        .write.partitionBy("event_date", "arrival_date")
        .parquet(str(root / "landed_events"))
    )
    events = spark.read.schema(LANDED_SCHEMA).parquet(str(root / "landed_events"))
    (
        events.select(*EVENT_COLUMNS, "event_date")
        .repartition("event_date")
        .write.partitionBy("event_date")
        .parquet(str(root / "events"))
    )
    for path in root.rglob("*"):  # as published: no markers
        if path.is_file() and (path.name.endswith(".crc") or path.name == "_SUCCESS"):
            path.unlink()
    return days * per_day


def parquet_sizes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_size
        for table in ("landed_events", "events", "quarantine")
        for p in (root / table).rglob("*.parquet")
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--events-per-day", type=int, default=100_000)
    parser.add_argument("--erase", type=int, default=100)
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="pulse-bench-erasure-"))
    try:
        config = PulseConfig.from_env(
            {"PULSE_LANDING_URI": str(root / "landing"), "PULSE_WAREHOUSE_URI": str(root)}
        )
        started = time.perf_counter()
        spark = get_spark(args.master, app_name="bench-erasure")
        print(f"JVM + session start: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        events = write_tables(spark, root, args.users, args.days, args.events_per_day)
        print(
            f"landed_events and events: {events:,} events over {args.days} days,"
            f" {args.users:,} users (written in {time.perf_counter() - started:.1f} s, untimed)"
        )
        before = parquet_sizes(root)
        step = max(1, args.users // args.erase)
        ids = {f"user-{k * step}": f"h{k}" for k in range(args.erase)}
        warehouse = Warehouse(root, run_id="bench-erasure")
        load = os.getloadavg()[0]
        timings = {}
        started = time.perf_counter()
        found = erasure_job.find(warehouse, ids)
        timings["find"] = time.perf_counter() - started
        started = time.perf_counter()
        erasure_job.rewrite_raw(warehouse, found, set(ids))
        timings["rewrite_raw"] = time.perf_counter() - started
        started = time.perf_counter()
        erasure_job.rebuild_events(spark, config, warehouse, sorted(found.dates))
        timings["rebuild_events"] = time.perf_counter() - started
        after = parquet_sizes(root)
        rewritten = sum(size for path, size in after.items() if path not in before)
        removed = sum(counts.get("landed_events", 0) for counts in found.rows.values())
        print(
            f"erased {len(ids)} users: {removed:,} landed rows in {len(found.landed)} of"
            f" {len(list((root / 'landed_events').glob('*/*')))} landed partitions,"
            f" {len(found.dates)} event dates rebuilt"
        )
        print(
            f"seconds: {', '.join(f'{k} {v:.1f}' for k, v in timings.items())};"
            f" total {sum(timings.values()):.1f}; load {load:.1f}"
        )
        print(
            f"bytes rewritten: {rewritten / 1e6:.1f} MB of {sum(before.values()) / 1e6:.1f} MB"
            " (landed_events + events)"
        )
        print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}")
        spark.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
