"""Benchmark: the nightly attribution update (the `attribution_touchpoints` group for one day)
and the Markov / Shapley fit on its path table.

    .venv/bin/python -m bench.attribution        # 1M users, 5M touches, 500k conversions, 90 days
    .venv/bin/python -m bench.attribution --users 100000 --touches 500000 --conversions 50000

A synthetic `events` table is written straight into a temporary warehouse with `spark.range`
and hashes (untimed): --touches page views with a channel (one of --channels, skewed: a few
channels carry most touches; each its own session) and --conversions `purchase` events with a
`revenue` property, users and times uniform over --days days. Then the group runs for the last
day (one warm Spark session, `local[*]` unless --master): it reads the last W + L + 1 days
(all of them with the defaults W = 90, L = 30), builds the three marts, fits Markov and
Shapley on the driver, audits with GX and publishes. The first run (the middle day: a shorter
history) warms the JVM up and is reported apart. Then the fit alone is timed on the published
path table, with the Shapley value by its definition over all 2^n coalitions and by the
dividends. Record results in docs/benchmarks.md.
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
from include.pulse.reader import read_table
from include.pulse.spark import get_spark
from jobs import pipeline
from jobs.attribution_touchpoints.models import (
    PathCount,
    channel_set_rates,
    markov_removal_effects,
    parse_path,
    shapley_values,
)
from jobs.events.schema import SCHEMA as EVENTS_SCHEMA

FIRST_DAY = date(2024, 1, 1)


def write_events(spark, root: Path, args: argparse.Namespace) -> int:
    """Synthetic `events` partitions; returns the number of rows."""
    channels = [f"channel_{i:02d}" for i in range(args.channels)]
    start = F.to_timestamp(F.lit(f"{FIRST_DAY} 00:00:00"))

    def when(salt: int):
        seconds = F.pmod(F.xxhash64("id", F.lit(salt)), F.lit(args.days * 86_400))
        return start + F.make_interval(secs=seconds.cast("int"))

    def user(salt: int):
        index = F.pmod(F.xxhash64("id", F.lit(salt)), F.lit(args.users))
        return F.concat(F.lit("user-"), index.cast("string"))

    # Skewed channels: the square of a uniform draw favours the first channels.
    draw = F.pmod(F.xxhash64("id", F.lit(3)), F.lit(10_000)) / 10_000.0
    pick = (F.floor(draw * draw * len(channels)) + 1).cast("int")
    touches = spark.range(args.touches).select(
        F.concat(F.lit("t-"), F.col("id").cast("string")).alias("event_id"),
        user(1).alias("user_id"),
        F.lit("page_view").alias("event_name"),
        when(2).alias("event_ts"),
        F.concat(F.lit("s-"), F.col("id").cast("string")).alias("session_id"),
        F.element_at(F.array(*[F.lit(c) for c in channels]), pick).alias("channel"),
        F.lit('{"utm_campaign":"spring"}').alias("properties"),
    )
    revenue = (F.pmod(F.xxhash64("id", F.lit(4)), F.lit(20_000)) / 100.0).cast("string")
    conversions = spark.range(args.conversions).select(
        F.concat(F.lit("c-"), F.col("id").cast("string")).alias("event_id"),
        user(5).alias("user_id"),
        F.lit("purchase").alias("event_name"),
        when(6).alias("event_ts"),
        F.lit(None).cast("string").alias("session_id"),
        F.lit(None).cast("string").alias("channel"),
        F.concat(F.lit('{"revenue":"'), revenue, F.lit('"}')).alias("properties"),
    )
    rows = touches.unionByName(conversions).select(
        "*",
        F.lit("web").alias("platform"),
        F.lit(None).cast("string").alias("account_id"),
        F.lit("free").alias("plan"),
        F.lit("bench").alias("source_file"),
        F.to_date("event_ts").alias("arrival_date"),
        F.to_date("event_ts").alias("event_date"),
    )
    rows = rows.select(*[F.col(f.name).cast(f.dataType) for f in EVENTS_SCHEMA.fields])
    rows.repartition("event_date").write.partitionBy("event_date").parquet(str(root / "events"))
    return spark.read.parquet(str(root / "events")).count()


def fit_figures(root: Path, day: date) -> None:
    """The fit alone, on the published path table of `day`."""
    started = time.perf_counter()
    table = read_table(root, "marts/attribution_paths", start=day, end=day).to_pylist()
    paths = [
        PathCount(parse_path(r["path"]), r["total_conversions"], r["total_null"]) for r in table
    ]
    parsed = time.perf_counter()
    markov_removal_effects(paths)
    markov = time.perf_counter()
    rates = channel_set_rates(paths)
    channels = len({c for key in rates for c in key})
    _, method = shapley_values(rates, exact_limit=channels)
    exact = time.perf_counter()
    shapley_values(rates, exact_limit=0)
    dividends = time.perf_counter()
    print(
        f"fit on the driver: {len(paths):,} distinct paths, {len(rates):,} channel sets,"
        f" {channels} channels: read {parsed - started:.2f} s, markov {markov - parsed:.2f} s,"
        f" shapley over 2^{channels} coalitions ({method}) {exact - markov:.2f} s,"
        f" by dividends {dividends - exact:.3f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--touches", type=int, default=5_000_000)
    parser.add_argument("--conversions", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="pulse-bench-attribution-"))
    try:
        config = PulseConfig.from_env(
            {"PULSE_LANDING_URI": str(root / "landing"), "PULSE_WAREHOUSE_URI": str(root)}
        )
        started = time.perf_counter()
        spark = get_spark(args.master, app_name="bench-attribution")
        print(f"JVM + session start: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        rows = write_events(spark, root, args)
        print(
            f"events: {rows:,} rows over {args.days} days, {args.users:,} users,"
            f" {args.channels} channels (written in {time.perf_counter() - started:.1f} s,"
            " untimed below)"
        )
        middle = FIRST_DAY + timedelta(days=args.days // 2 - 1)
        last = FIRST_DAY + timedelta(days=args.days - 1)
        for label, day in (("warm-up", middle), ("last", last)):
            load = os.getloadavg()[0]
            started = time.perf_counter()
            report = pipeline.run(spark, config, "attribution_touchpoints", day)
            seconds = time.perf_counter() - started
            read = min(args.days, (day - FIRST_DAY).days + 1)
            share = read / args.days
            print(
                f"{label:>8} day {day}: {seconds:.1f} s for ~{rows * share:,.0f} events"
                f" ({rows * share / seconds:,.0f} rows/s), rows {report['rows']},"
                f" conversions {report['conversions']}, fits {report['fits']},"
                f" phases {report['seconds']}, load {load:.1f}"
            )
        fit_figures(root, last)
        print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}")
        spark.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
