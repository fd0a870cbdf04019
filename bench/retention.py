"""Benchmark: the nightly retention update (the `retention_cohorts` group for one new day).

    .venv/bin/python -m bench.retention                 # 100k users, 180 days of history
    .venv/bin/python -m bench.retention --users 20000 --days 90

A synthetic `user_daily` is written straight into a temporary warehouse with `spark.range` and
hashes: --users users whose first day is spread uniformly over the history, each active on
their first day and afterwards with a probability that decays with age (60% the day after,
about 5% after ten weeks; ~15% of the pool active on a late day), platform/channel/plan drawn
per user. Then the nightly run is timed (one warm Spark session, `local[*]` unless --master) at
two points of the history, the middle day and the last day, so the growth with history shows:
each run computes one snapshot (all three grains and breakdowns) from all of `user_daily` up to
its day, audits it with GX and publishes it. The first run after the JVM start warms up and is
reported apart. Record results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from pyspark.sql import functions as F

from include.pulse.config import PulseConfig
from include.pulse.spark import get_spark
from jobs import pipeline
from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA

FIRST_DAY = date(2024, 1, 1)


def write_user_daily(spark, root: Path, users: int, days: int) -> int:
    """Synthetic `user_daily` partitions; returns the number of rows."""
    pool = spark.range(users).withColumnRenamed("id", "u")
    pool = pool.withColumn("first", F.pmod(F.xxhash64("u", F.lit(1)), F.lit(days)))
    grid = pool.crossJoin(spark.range(days).withColumnRenamed("id", "d"))
    age = F.col("d") - F.col("first")
    chance = F.when(age == 0, 1.0).otherwise(0.6 / (1 + age / 7.0) + 0.04)
    draw = F.pmod(F.xxhash64("u", "d"), F.lit(10_000)) / 10_000.0
    active = grid.where((age >= 0) & (draw < chance))

    def pick(options: list[str], salt: int):
        index = F.pmod(F.xxhash64("u", F.lit(salt)), F.lit(len(options)))
        return F.element_at(F.array(*[F.lit(o) for o in options]), (index + 1).cast("int"))

    start = F.to_timestamp(F.lit(f"{FIRST_DAY} 09:00:00"))
    rows = active.select(
        F.concat(F.lit("user-"), F.col("u").cast("string")).alias("user_id"),
        F.lit(3).cast("long").alias("event_count"),
        F.lit(1).cast("long").alias("session_count"),
        F.lit(2).cast("long").alias("distinct_event_names"),
        (start + F.make_interval(days=F.col("d").cast("int"))).alias("first_event_ts"),
        (start + F.make_interval(days=F.col("d").cast("int"), mins=F.lit(20))).alias(
            "last_event_ts"
        ),
        pick(["web", "ios", "android"], 2).alias("platform"),
        F.lit(None).cast("string").alias("account_id"),
        pick(["web", "ios", "android"], 2).alias("first_platform"),
        pick(["ads", "organic", "email", "referral", "social"], 3).alias("first_channel"),
        pick(["free", "free", "pro", "enterprise"], 4).alias("first_plan"),
        F.date_add(F.lit(FIRST_DAY), F.col("d").cast("int")).alias("event_date"),
    )
    rows = rows.select(*[F.col(f.name).cast(f.dataType) for f in USER_DAILY_SCHEMA.fields])
    rows.repartition("event_date").write.partitionBy("event_date").parquet(str(root / "user_daily"))
    return spark.read.parquet(str(root / "user_daily")).count()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="pulse-bench-retention-"))
    try:
        config = PulseConfig.from_env(
            {"PULSE_LANDING_URI": str(root / "landing"), "PULSE_WAREHOUSE_URI": str(root)}
        )
        started = time.perf_counter()
        spark = get_spark(args.master, app_name="bench-retention")
        print(f"JVM + session start: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        rows = write_user_daily(spark, root, args.users, args.days)
        print(
            f"user_daily: {rows:,} rows over {args.days} days, {args.users:,} users"
            f" (written in {time.perf_counter() - started:.1f} s, untimed below)"
        )
        # The first-seen tables the group reads, built once from that history (untimed).
        started = time.perf_counter()
        pipeline.run(spark, config, "user_first_seen", FIRST_DAY + timedelta(days=args.days - 1))
        print(f"user_first_seen built in {time.perf_counter() - started:.1f} s (untimed below)")
        middle = FIRST_DAY + timedelta(days=args.days // 2 - 1)
        last = FIRST_DAY + timedelta(days=args.days - 1)
        for label, day in (
            ("warm-up", middle - timedelta(days=1)),
            ("middle", middle),
            ("last", last),
        ):
            load = os.getloadavg()[0]
            started = time.perf_counter()
            report = pipeline.run(spark, config, "retention_cohorts", day)
            seconds = time.perf_counter() - started
            print(
                f"{label:>8} day {day} (history {(day - FIRST_DAY).days + 1} days):"
                f" {seconds:.1f} s, snapshots {report['days_recomputed']},"
                f" rows {report['rows']}, phases {report['seconds']}, load {load:.1f}"
            )
        print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}")
        spark.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
