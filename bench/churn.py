"""Benchmark: the churn group (`churn_features`) on a synthetic `user_daily`: the nightly
feature build and scoring, and a retrain day (fit of both candidates, baselines, calibration,
refit, version write).

    .venv/bin/python -m bench.churn                       # 1M users, 8 snapshots, 2g heap
    .venv/bin/python -m bench.churn --users 200000 --compare-full
    .venv/bin/python -m bench.churn --users 20000 --snapshots 3 --horizon 14

`user_daily` is written straight into a temporary warehouse with `spark.range` and hashes
(untimed): each user starts on a uniform day, is active on a day with a user-level rate, and
40% of them leave on a uniform day after a 21-day decline (the planted signal). Enough days are
generated for the oldest snapshot to have 90 days of history. Then, in one warm Spark session
(`local[*]` unless --master): a first run on a day before any model (features only: the
nightly feature cost, after a warm-up), the retrain day T (features, training, scoring), and
T + 1 (features and scoring with the stored version: the nightly cost). The fits use at most
PULSE_CHURN_TRAIN_ROWS_MAX rows (`--train-rows-max`, default the setting's); `--compare-full`
then re-runs the retrain day with no cap (`0`) and prints both validation ROC AUCs and their
difference (the cap's cost; the full fit may need more heap than the default). Peak memory: the
driver process's max RSS (the JVM's is reported by `ps` at the end). Record results in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import resource
import shutil
import subprocess
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from pyspark.sql import functions as F

from include.pulse.config import PulseConfig
from include.pulse.spark import LOCAL_CONF, get_spark
from jobs import pipeline

FIRST_DAY = date(2024, 1, 1)


def write_user_daily(spark, root: Path, users: int, days: int) -> int:
    def unit(*salt) -> F.Column:  # a uniform in [0, 1) from hashes: reproducible
        return (F.abs(F.hash(*salt)) % 1_000_003) / F.lit(1_000_003.0)

    u = spark.range(users).select(
        F.col("id").alias("uid"),
        (unit(F.col("id"), F.lit(1)) * days * 0.5).cast("int").alias("start"),
        (0.05 + 0.5 * unit(F.col("id"), F.lit(2))).alias("rate"),
        F.when(
            unit(F.col("id"), F.lit(3)) < 0.4, (unit(F.col("id"), F.lit(4)) * days).cast("int")
        ).alias("end"),
    )
    d = spark.range(days).select(F.col("id").cast("int").alias("day"))
    daily = u.crossJoin(d).where(
        (F.col("day") >= F.col("start")) & (F.col("end").isNull() | (F.col("day") <= F.col("end")))
    )
    decline = F.when(
        F.col("end").isNotNull() & (F.col("end") - F.col("day") < 21),
        (F.col("end") - F.col("day")) / 21.0,
    ).otherwise(F.lit(1.0))
    daily = daily.where(unit(F.col("uid"), F.col("day"), F.lit(5)) < F.col("rate") * decline)
    ts = F.to_timestamp(F.date_add(F.lit(FIRST_DAY), F.col("day")))
    out = daily.select(
        F.concat(F.lit("u"), F.col("uid").cast("string")).alias("user_id"),
        (1 + (unit(F.col("uid"), F.col("day"), F.lit(6)) * 20).cast("long")).alias("event_count"),
        (1 + (unit(F.col("uid"), F.col("day"), F.lit(7)) * 3).cast("long")).alias("session_count"),
        F.lit(3).cast("long").alias("distinct_event_names"),
        ts.alias("first_event_ts"),
        ts.alias("last_event_ts"),
        F.element_at(
            F.array(*[F.lit(p) for p in ("web", "ios", "android")]),
            (F.col("uid") % 3 + 1).cast("int"),
        ).alias("platform"),
        F.concat(F.lit("a"), (F.col("uid") % (users // 5 + 1)).cast("string")).alias("account_id"),
        F.lit("web").alias("first_platform"),
        F.lit("seo").alias("first_channel"),
        F.lit("free").alias("first_plan"),
        F.date_add(F.lit(FIRST_DAY), F.col("day")).alias("event_date"),
    )
    out.write.partitionBy("event_date").parquet(str(root / "user_daily"))
    return spark.read.parquet(str(root / "user_daily")).count()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--snapshots", type=int, default=8)
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--master", default="local[*]")
    # A local session's JVM heap: the pipeline's default (2g); the fits are capped at
    # PULSE_CHURN_TRAIN_ROWS_MAX rows, so 1M users fit in it.
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--train-rows-max", type=int, default=None)
    parser.add_argument("--compare-full", action="store_true")
    args = parser.parse_args(argv)
    LOCAL_CONF["spark.driver.memory"] = args.driver_memory
    # The retrain day T: the oldest snapshot T - H - 7(N - 1) has 90 days of history.
    train_day = FIRST_DAY + timedelta(days=90 + args.horizon + 7 * (args.snapshots - 1))
    days = (train_day - FIRST_DAY).days + 2
    root = Path(tempfile.mkdtemp(prefix="pulse-bench-churn-"))
    try:
        config = PulseConfig.from_env(
            {
                "PULSE_LANDING_URI": str(root / "landing"),
                "PULSE_WAREHOUSE_URI": str(root),
                "PULSE_CHURN_HORIZON_DAYS": str(args.horizon),
                "PULSE_CHURN_TRAINING_SNAPSHOTS": str(args.snapshots),
                **(
                    {"PULSE_CHURN_TRAIN_ROWS_MAX": str(args.train_rows_max)}
                    if args.train_rows_max is not None
                    else {}
                ),
            }
        )
        started = time.perf_counter()
        spark = get_spark(args.master, app_name="bench-churn")
        print(f"JVM + session start: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        rows = write_user_daily(spark, root, args.users, days)
        print(
            f"user_daily: {rows:,} rows, {args.users:,} users, {days} days"
            f" (written in {time.perf_counter() - started:.1f} s, untimed below)"
        )
        # The first-seen tables the group reads, built once from that history (untimed).
        started = time.perf_counter()
        pipeline.run(spark, config, "user_first_seen", FIRST_DAY + timedelta(days=days - 1))
        print(f"user_first_seen built in {time.perf_counter() - started:.1f} s (untimed below)")
        # The users_state chain the lifetime features read (issue 30), untimed as well.
        started = time.perf_counter()
        pipeline.run(spark, config, "active_users", FIRST_DAY + timedelta(days=days - 1))
        print(f"users_state chain built in {time.perf_counter() - started:.1f} s (untimed below)")
        # The last cold-start day: its oldest snapshot is the day before the history.
        before = FIRST_DAY + timedelta(days=args.horizon + 7 * (args.snapshots - 1) - 1)
        runs = (
            ("warm-up (features only)", before - timedelta(days=1)),
            ("cold start, features", before),
            ("retrain day", train_day),
            ("nightly scoring", train_day + timedelta(days=1)),
        )
        if args.compare_full:  # last: a re-run of the retrain day retrains it, with no cap
            full = dataclasses.replace(config, churn_train_rows_max=0)
            runs += (("retrain day, no cap", train_day),)
        aucs = {}
        for label, day in runs:
            load = os.getloadavg()[0]
            started = time.perf_counter()
            report = pipeline.run(
                spark, full if label.endswith("no cap") else config, "churn_features", day
            )
            seconds = time.perf_counter() - started
            churn = report.get("churn", {})
            training = churn.get("training", {}).get(day.isoformat(), {})
            aucs[label] = training.get("validation_roc_auc")
            print(
                f"{label:>24} {day}: {seconds:.1f} s, rows {report.get('rows')},"
                f" phases {report['seconds']}, training {training.get('status')}"
                f" {training.get('seconds')}, AUC {training.get('validation_roc_auc')}"
                f" vs recency {training.get('recency_rule_roc_auc')}, load {load:.1f}"
            )
            if training.get("training_rows"):
                sizes = training["training_rows"]
                print(
                    f"{'':>24} rows_max {sizes['rows_max']}: "
                    + ", ".join(
                        f"{step} {s['sampled']:,} of {s['rows']:,}"
                        for step in ("fit", "calibration", "refit")
                        if (s := sizes.get(step))
                    )
                )
        if args.compare_full and None not in (aucs["retrain day"], aucs["retrain day, no cap"]):
            capped, every = aucs["retrain day"], aucs["retrain day, no cap"]
            print(
                f"validation ROC AUC: capped {capped:.4f}, full {every:.4f},"
                f" difference {capped - every:+.4f}"
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        jvm = subprocess.run(
            ["ps", "-o", "rss=", "--ppid", str(os.getpid())], capture_output=True, text=True
        ).stdout.split()
        print(
            f"peak RSS: driver (Python) {peak:.0f} MiB, JVM now"
            f" {sum(int(x) for x in jvm) / 1024:.0f} MiB"
        )
        print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}")
        spark.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
