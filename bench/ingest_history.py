"""Benchmark: the ingest's cross-day deduplication as the landed history grows (prints figures).

    .venv/bin/python -m bench.ingest_history        # 100,000 keys a day; 30 and 365 days
    .venv/bin/python -m bench.ingest_history --events-per-day 20000 --days 10,60 --repeats 1

An arrival day's ingest decides which copy of an event wins within the dedup window
(`PULSE_DEDUP_WINDOW_DAYS`, `jobs/events/job.py`): it lists the `landed_events` folders (names
only), `_dates_sharing_keys` (the dates of later copies this arrival's copies decide; none in a
nightly run) and `_rebuild_events` (the touched dates' events, each copy judged against the
keys of the window before it), then the touched dates are written. This bench times those
steps, the way the job calls them, after a synthetic history of H days of E keys each
(`landed_events/event_date=X/arrival_date=X/`, SHA-256 keys as the ingest makes them), for each
H of --days, in one warm `local[*]` session. The arrival of day H delivers E new keys (3 % of
them late, for the 3 days before) and re-delivers E / 200 keys landed in the 7 days before.
Only the columns these steps read are real; the others are constants. The rest of the ingest
(reading and normalising the landing files, the audits) does not depend on history: see
`bench/ingest_floor.py`.

Printed per H: seconds of each step (median of --repeats), rows, and the total's ratio to the
first H: a cost flat in history would stay near 1.0x. Record results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

START = date(2024, 1, 1)
LATE_PERCENT = 3  # of the arrival's new keys, spread over the 3 days before it
REDELIVERED_DAYS = 7  # re-deliveries are of the last week's events
REDELIVERED_EVERY = 200  # as many as 0.5 % of a day's events


def landed(ids: object, event_date: object, arrival_date: object) -> object:
    """Landed copies of the events numbered `ids` (a `spark.range` frame)."""
    from pyspark.sql import functions as F

    key = F.sha2(F.concat(F.lit("event-"), F.col("id").cast("string")), 256)
    return ids.select(  # type: ignore[attr-defined]
        key.alias("dedup_key"),
        key.alias("event_id"),
        (F.col("id") % 50_000).cast("string").alias("user_id"),
        F.lit("page_view").alias("event_name"),
        F.current_timestamp().alias("event_ts"),
        event_date.alias("event_date"),  # type: ignore[attr-defined]
        arrival_date.alias("arrival_date"),  # type: ignore[attr-defined]
    )


def build(spark: object, root: Path, days: int, per_day: int) -> tuple[Path, date]:
    """The landed history of `days` days and the next day's staged arrival; the arrival day."""
    from pyspark.sql import functions as F

    from include.pulse.warehouse import Warehouse

    day_of = F.date_add(F.lit(START), (F.col("id") / per_day).cast("int"))
    history = landed(spark.range(0, days * per_day), day_of, day_of)  # type: ignore[attr-defined]
    history.write.partitionBy("event_date", "arrival_date").parquet(
        str(Warehouse(root).table("landed_events"))
    )
    arrival = START + timedelta(days=days)
    new = spark.range(days * per_day, (days + 1) * per_day)  # type: ignore[attr-defined]
    recent = max(0, days - REDELIVERED_DAYS) * per_day
    step = REDELIVERED_DAYS * REDELIVERED_EVERY
    old = spark.range(recent, days * per_day, step)  # type: ignore[attr-defined]
    lag = F.col("id") % 100
    event_date = F.when(lag < 100 - LATE_PERCENT, F.lit(arrival)).otherwise(
        F.date_sub(F.lit(arrival), (lag - (99 - LATE_PERCENT)).cast("int"))
    )
    staging = root / "_staging" / "events"
    landed(new.unionByName(old), event_date, F.lit(arrival)).write.partitionBy(
        "event_date", "arrival_date"
    ).parquet(str(staging / "landed_events"))
    return staging, arrival


def measure(
    spark: object, root: Path, staging: Path, arrival: date, window: int
) -> dict[str, float]:
    """The job's dedup steps for `arrival`, as `jobs/events/job.py: run` calls them."""
    from include.pulse.warehouse import Warehouse, partition_dirs
    from jobs.events import job

    warehouse = Warehouse(root)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    landed_dirs = partition_dirs(warehouse.table("landed_events"), "event_date=*/arrival_date=*")
    seconds["list_folders"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sharing = job._dates_sharing_keys(spark, staging, landed_dirs, [], arrival, window)
    seconds["dates_sharing_keys"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    own = {(arrival - timedelta(days=k)).isoformat() for k in range(4)}
    touched = sorted(own | sharing)
    events = job._rebuild_events(spark, warehouse, staging, landed_dirs, arrival, touched, window)
    out = root / "_out" / f"{time.monotonic_ns()}"
    events.repartition("event_date").write.partitionBy("event_date").parquet(str(out))
    seconds["rebuild_and_write"] = time.perf_counter() - t0
    seconds["folders"] = len(landed_dirs)
    seconds["touched"] = len(touched)
    seconds["rows"] = spark.read.parquet(str(out)).count()  # type: ignore[attr-defined]
    shutil.rmtree(out)
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events-per-day", type=int, default=100_000)
    parser.add_argument("--days", default="30,365", help="history lengths, comma-separated")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--window", type=int, default=7, help="PULSE_DEDUP_WINDOW_DAYS")
    args = parser.parse_args(argv)
    from include.pulse.spark import get_spark

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs; {args.master}")
    spark = get_spark(args.master)
    steps = ("list_folders", "dates_sharing_keys", "rebuild_and_write")
    first_total = None
    for days in [int(d) for d in args.days.split(",")]:
        root = Path(tempfile.mkdtemp(prefix=f"pulse-bench-history-{days}-"))
        try:
            started = time.perf_counter()
            staging, arrival = build(spark, root, days, args.events_per_day)
            built = time.perf_counter() - started
            runs = [
                measure(spark, root, staging, arrival, args.window) for _ in range(args.repeats)
            ]
        finally:
            shutil.rmtree(root, ignore_errors=True)
        median = {k: statistics.median(r[k] for r in runs) for k in steps}
        total = sum(median.values())
        first_total = first_total or total
        print(
            f"history {days} days ({days * args.events_per_day:,} landed keys in"
            f" {int(runs[0]['folders']):,} folders, built in {built:.0f}s); window {args.window}:"
            f" arrival {arrival}: "
            + ", ".join(f"{k} {median[k]:.1f}s" for k in steps)
            + f"; total {total:.1f}s = {total / first_total:.2f}x the first;"
            f" {int(runs[0]['touched'])} dates rebuilt, {int(runs[0]['rows']):,} rows"
            f" (runs: {', '.join(f'{sum(r[k] for k in steps):.1f}s' for r in runs)})",
            flush=True,
        )
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
