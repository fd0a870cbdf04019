"""Retention cohorts: `marts/retention_cohorts` and `marts/retention_curve`, snapshots as of D.

Input: `user_daily` (every partition up to D: a user's cohort is their first day over all
history) and, when a start or return event is configured, `user_feature_daily`. Never raw
events. Output: `marts/retention_cohorts/dt=D/` (the cohort matrix by grain and breakdown) and
`marts/retention_curve/dt=D/` (each period's retention averaged over the complete cohorts,
weighted by cohort size). Definitions: docs/marts.md "Retention".

Which snapshots to compute: `user_daily.refresh` marks every date whose activity changed
(`_marks/retention/`); a change on X alters every snapshot from X on, so the run recomputes its
own day and every already computed snapshot after the earliest change, in one Spark job. A
nightly run leaves changes older than D - PULSE_LATENESS_DAYS pending for a backfill, like the
other marts. The transforms are pure; `run` does the I/O.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from include.pulse.config import PulseConfig
from include.pulse.quality import QualityGate
from include.pulse.snapshots import publish_snapshots, stage_and_audit
from include.pulse.spark import get_spark
from include.pulse.warehouse import Warehouse, partition_dirs, partition_values
from jobs import user_daily
from jobs.engagement import plan_days
from jobs.events import Stopwatch

log = logging.getLogger(__name__)

MARTS = ("marts/retention_cohorts", "marts/retention_curve")
EPOCH = date(1970, 1, 1)
FIRST_MONDAY = date(1970, 1, 5)  # ISO weeks start on Monday
UNKNOWN = "unknown"  # a breakdown value the user's first day did not carry

RETENTION_COHORTS_SCHEMA = T.StructType(
    [
        T.StructField("grain", T.StringType(), False),  # day | week | month
        T.StructField("cohort_start", T.DateType(), False),  # first day of the cohort period
        T.StructField("period_number", T.IntegerType(), False),  # k: periods after the cohort's
        T.StructField("cohort_size", T.LongType(), False),
        T.StructField("retained", T.LongType(), False),  # active in period c+k
        T.StructField("retention_rate", T.DoubleType(), False),
        T.StructField("retained_unbounded", T.LongType(), False),  # active in a period >= c+k
        T.StructField("unbounded_rate", T.DoubleType(), False),
        T.StructField("is_complete", T.BooleanType(), False),  # period c+k ended by D
        T.StructField("dimension", T.StringType(), False),  # all | platform | channel | plan
        T.StructField("dimension_value", T.StringType(), False),
        T.StructField("dt", T.DateType(), False),  # the snapshot day D, partition column
    ]
)

RETENTION_CURVE_SCHEMA = T.StructType(
    [
        T.StructField("grain", T.StringType(), False),
        T.StructField("period_number", T.IntegerType(), False),
        T.StructField("cohorts", T.LongType(), False),  # complete cohorts averaged
        T.StructField("cohort_users", T.LongType(), False),  # their users (the weights' sum)
        T.StructField("retention_rate", T.DoubleType(), False),
        T.StructField("unbounded_rate", T.DoubleType(), False),
        T.StructField("dimension", T.StringType(), False),
        T.StructField("dimension_value", T.StringType(), False),
        T.StructField("dt", T.DateType(), False),
    ]
)

SCHEMAS = dict(zip(MARTS, (RETENTION_COHORTS_SCHEMA, RETENTION_CURVE_SCHEMA), strict=True))
DIMENSIONS = ("platform", "channel", "plan")


@dataclass(frozen=True)
class Shape:
    """How many cohorts of a grain, and how many periods (k = 0 .. periods-1) each."""

    grain: str
    cohorts: int
    periods: int


@dataclass(frozen=True)
class Rules:
    shapes: tuple[Shape, ...]
    start_event: str | None = None  # None: the cohort is the user's first active day
    return_event: str | None = None  # None: any activity is a return

    @classmethod
    def from_config(cls, config: PulseConfig) -> Rules:
        return cls(
            shapes=(
                Shape("day", config.retention_day_cohorts, config.retention_day_periods),
                Shape("week", config.retention_week_cohorts, config.retention_week_periods),
                Shape("month", config.retention_month_cohorts, config.retention_month_periods),
            ),
            start_event=config.retention_start_event,
            return_event=config.retention_return_event,
        )


def period_index(grain: Column, day: Column) -> Column:
    """The number of the period of `grain` containing `day` (consecutive periods differ by 1)."""
    return (
        F.when(grain == "day", F.datediff(day, F.lit(EPOCH)))
        .when(grain == "week", F.floor(F.datediff(day, F.lit(FIRST_MONDAY)) / 7))
        .otherwise((F.year(day) - 1970) * 12 + F.month(day) - 1)
    ).cast("int")


def period_start(grain: Column, index: Column) -> Column:
    """The first day of period number `index` of `grain`."""
    return (
        F.when(grain == "day", F.date_add(F.lit(EPOCH), index))
        .when(grain == "week", F.date_add(F.lit(FIRST_MONDAY), index * 7))
        .otherwise(F.add_months(F.lit(EPOCH), index))
    )


def first_period_start(day: date, shape: Shape) -> date:
    """The first day of the oldest cohort of `shape` in the snapshot of `day`."""
    if shape.grain == "day":
        return day - timedelta(days=shape.cohorts - 1)
    if shape.grain == "week":
        return day - timedelta(days=day.weekday() + 7 * (shape.cohorts - 1))
    months = day.year * 12 + day.month - 1 - (shape.cohorts - 1)
    return date(months // 12, months % 12 + 1, 1)


def cohort_users(daily: DataFrame, start_days: DataFrame | None = None) -> DataFrame:
    """One row per user: `user_id, cohort_day` and the breakdown values of the user's first event.

    `daily`: `user_daily` rows of all history. `cohort_day` is the user's first active day, or
    with `start_days` (user_id, event_date of a start event) the first day of that event; users
    without one are in no cohort.
    """
    first = daily.groupBy("user_id").agg(
        F.min(F.struct("event_date", *[F.col(f"first_{d}").alias(d) for d in DIMENSIONS])).alias(
            "first"
        )
    )
    users = first.select(
        "user_id",
        F.col("first.event_date").alias("cohort_day"),
        *[F.coalesce(F.col(f"first.{d}"), F.lit(UNKNOWN)).alias(d) for d in DIMENSIONS],
    )
    if start_days is None:
        return users
    started = start_days.groupBy("user_id").agg(F.min("event_date").alias("cohort_day"))
    return users.drop("cohort_day").join(started, "user_id")


def retention_cohorts(
    users: DataFrame, active_days: DataFrame, dts: list[date], rules: Rules
) -> DataFrame:
    """The cohort matrix of every snapshot in `dts` (see RETENTION_COHORTS_SCHEMA).

    `users`: `cohort_users(...)`; `active_days`: (user_id, event_date) of returning activity.
    A snapshot D sees only activity on or before D; the cohort's own start counts as activity
    in period 0, so period 0 retains the whole cohort.
    """
    spark = users.sparkSession
    frames = (
        spark.createDataFrame([(d,) for d in dts], "dt date")
        .crossJoin(
            spark.createDataFrame(
                [(s.grain, s.cohorts, s.periods) for s in rules.shapes],
                "grain string, cohorts int, periods int",
            )
        )
        .withColumn("now", period_index(F.col("grain"), F.col("dt")))
    )
    members = (
        users.crossJoin(F.broadcast(frames))
        .where(F.col("cohort_day") <= F.col("dt"))
        .withColumn("cohort", period_index(F.col("grain"), F.col("cohort_day")))
        .where(F.col("cohort") > F.col("now") - F.col("cohorts"))
    )
    days = active_days.select("user_id", "event_date").unionByName(
        users.select("user_id", F.col("cohort_day").alias("event_date"))
    )
    # One row per (snapshot, grain, member): the periods (k) they were active in, from the
    # cohort on and up to the snapshot, and the last of them.
    member = ["dt", "grain", "user_id", "cohort", "now", "periods", *DIMENSIONS]
    per_user = (
        members.join(days, "user_id")
        .where((F.col("event_date") >= F.col("cohort_day")) & (F.col("event_date") <= F.col("dt")))
        .groupBy(*member)
        .agg(
            F.collect_set(
                period_index(F.col("grain"), F.col("event_date")) - F.col("cohort")
            ).alias("active"),
            F.max(period_index(F.col("grain"), F.col("event_date"))).alias("last_period"),
        )
    )
    # Every cell up to D (cells after D are not emitted), counted first per combination of
    # breakdown values, then per breakdown: a user is retained in k if active in c+k, and
    # retained unbounded if their last active period is >= c+k.
    by_values = (
        per_user.select(
            "dt",
            "grain",
            "cohort",
            *DIMENSIONS,
            "active",
            (F.col("last_period") - F.col("cohort")).alias("last"),
            F.explode(
                F.sequence(F.lit(0), F.least(F.col("periods") - 1, F.col("now") - F.col("cohort")))
            ).alias("period_number"),
        )
        .groupBy("dt", "grain", "cohort", "period_number", *DIMENSIONS)
        .agg(
            F.count(F.lit(1)).alias("cohort_size"),
            F.sum(F.array_contains("active", F.col("period_number")).cast("long")).alias(
                "retained"
            ),
            F.sum((F.col("last") >= F.col("period_number")).cast("long")).alias(
                "retained_unbounded"
            ),
        )
    )
    breakdowns = F.array(
        F.struct(F.lit("all").alias("dimension"), F.lit("all").alias("value")),
        *[F.struct(F.lit(d).alias("dimension"), F.col(d).alias("value")) for d in DIMENSIONS],
    )
    matrix = (
        by_values.select("*", F.explode(breakdowns).alias("tag"))
        .groupBy(
            "dt",
            "grain",
            "cohort",
            "period_number",
            F.col("tag.dimension").alias("dimension"),
            F.col("tag.value").alias("dimension_value"),
        )
        .agg(*[F.sum(c).alias(c) for c in ("cohort_size", "retained", "retained_unbounded")])
    )
    next_start = period_start(F.col("grain"), F.col("cohort") + F.col("period_number") + 1)
    result = matrix.select(
        "grain",
        period_start(F.col("grain"), F.col("cohort")).alias("cohort_start"),
        "period_number",
        "cohort_size",
        "retained",
        (F.col("retained") / F.col("cohort_size")).alias("retention_rate"),
        "retained_unbounded",
        (F.col("retained_unbounded") / F.col("cohort_size")).alias("unbounded_rate"),
        (next_start <= F.date_add(F.col("dt"), 1)).alias("is_complete"),
        "dimension",
        "dimension_value",
        "dt",
    )
    return _conform(_known_dimensions(result), RETENTION_COHORTS_SCHEMA)


def _known_dimensions(frame: DataFrame) -> DataFrame:
    """Drop a breakdown whose every value is `unknown` in a snapshot (e.g. no event has a plan)."""
    from pyspark.sql import Window

    scope = Window.partitionBy("dt", "grain", "dimension")
    known = F.max((F.col("dimension_value") != UNKNOWN).cast("int")).over(scope)
    kept = frame.withColumn("_known", known).where(
        (F.col("dimension") == "all") | (F.col("_known") == 1)
    )
    return kept.drop("_known")


def retention_curve(cohorts: DataFrame) -> DataFrame:
    """Per snapshot, grain, breakdown and period: retention over the complete cohorts,
    weighted by cohort size (sum of retained / sum of cohort sizes)."""
    complete = cohorts.where(F.col("is_complete"))
    curve = complete.groupBy("dt", "grain", "dimension", "dimension_value", "period_number").agg(
        F.count(F.lit(1)).alias("cohorts"),
        F.sum("cohort_size").alias("cohort_users"),
        F.sum("retained").alias("retained"),
        F.sum("retained_unbounded").alias("retained_unbounded"),
    )
    return _conform(
        curve.withColumn("retention_rate", F.col("retained") / F.col("cohort_users")).withColumn(
            "unbounded_rate", F.col("retained_unbounded") / F.col("cohort_users")
        ),
        RETENTION_CURVE_SCHEMA,
    )


def _conform(frame: DataFrame, schema: T.StructType) -> DataFrame:
    return frame.select(*[F.col(f.name).cast(f.dataType) for f in schema.fields])


@dataclass(frozen=True)
class Inputs:
    daily: DataFrame  # user_daily, all history up to the last snapshot
    feature_daily: DataFrame | None  # user_feature_daily, when start/return events are set


def retention_marts(inputs: Inputs, dts: list[date], rules: Rules) -> dict[str, DataFrame]:
    """Both marts for the snapshots `dts`, from the compact activity tables."""

    def days_of(event: str) -> DataFrame:
        assert inputs.feature_daily is not None
        return (
            inputs.feature_daily.where(F.col("feature") == event)
            .select("user_id", "event_date")
            .distinct()
        )

    earliest = min(first_period_start(dts[0], shape) for shape in rules.shapes)
    users = cohort_users(
        inputs.daily, days_of(rules.start_event) if rules.start_event else None
    ).where(F.col("cohort_day") >= F.lit(earliest))
    active = days_of(rules.return_event) if rules.return_event else inputs.daily
    active = active.select("user_id", "event_date").where(F.col("event_date") >= F.lit(earliest))
    cohorts = retention_cohorts(users, active, dts, rules).persist()
    return {"marts/retention_cohorts": cohorts, "marts/retention_curve": retention_curve(cohorts)}


def run(
    spark: SparkSession,
    config: PulseConfig,
    day: date,
    run_id: str | None = None,
    late_cutoff: date | None = None,
) -> dict[str, Any]:
    """Bring the retention marts up to date for `day`; the caller refreshed `user_daily`."""
    started_at = datetime.now(UTC)
    watch = Stopwatch("retention")
    warehouse = Warehouse(config.local_warehouse, run_id=run_id)
    rules = Rules.from_config(config)
    quality = QualityGate(
        warehouse.root / "_quality" / "retention" / f"dt={day}",
        run_id or day.isoformat(),
        pandas_rows=config.quality_pandas_rows,
    )
    with warehouse.lock("marts"):
        marks = warehouse.marks("retention")
        cohort_dirs = partition_dirs(warehouse.table("marts/retention_cohorts"), "dt=*")
        computed = {date.fromisoformat(d) for d in partition_values(cohort_dirs, "dt")}
        dts, consumed, pending = plan_days(
            day, {date.fromisoformat(d) for d in marks}, computed, late_cutoff, horizon_days=None
        )
        log.info("retention: recomputing %d snapshot(s) %s .. %s", len(dts), dts[0], dts[-1])
        staging = warehouse.new_staging("retention", f"dt={day}")
        try:
            marts = retention_marts(_read_inputs(spark, warehouse, dts, rules), dts, rules)
            counts = stage_and_audit(spark, staging, marts, SCHEMAS, quality)
            marts["marts/retention_cohorts"].unpersist()
            watch.lap("compute_and_audit")
            publish_snapshots(warehouse, staging, MARTS, dts)
            warehouse.clear_marks([p for d in consumed for p in marks.get(d.isoformat(), [])])
            watch.lap("publish")
            report = {
                "job": "retention",
                "day": day.isoformat(),
                "run_id": run_id,
                "started_at": started_at.isoformat(),
                "days_recomputed": [d.isoformat() for d in dts],
                "late_changes_pending": sorted(d.isoformat() for d in pending),
                "rows": counts,
                "rules": {
                    "shapes": [s.__dict__ for s in rules.shapes],
                    "start_event": rules.start_event,
                    "return_event": rules.return_event,
                },
                "quality": {
                    "results": str(quality.out_dir),
                    "data_docs": str(quality.write_docs()),
                    "suites": quality.summaries,
                },
                "seconds": watch.seconds,
                "finished_at": datetime.now(UTC).isoformat(),
            }
            warehouse.write_json(warehouse.report_path("retention", day.isoformat()), report)
        finally:
            warehouse.discard(staging)
    return report


def _read_inputs(
    spark: SparkSession, warehouse: Warehouse, dts: list[date], rules: Rules
) -> Inputs:
    def history(table: str, schema: T.StructType) -> DataFrame:
        folders = [
            str(p)
            for p in partition_dirs(warehouse.table(table), "event_date=*")
            if date.fromisoformat(p.name.split("=", 1)[1]) <= dts[-1]
        ]
        reader = spark.read.schema(schema).option("basePath", str(warehouse.table(table)))
        return reader.parquet(*folders) if folders else spark.createDataFrame([], schema)

    needs_features = rules.start_event is not None or rules.return_event is not None
    return Inputs(
        daily=history("user_daily", user_daily.USER_DAILY_SCHEMA),
        feature_daily=(
            history("user_feature_daily", user_daily.USER_FEATURE_DAILY_SCHEMA)
            if needs_features
            else None
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", required=True, type=date.fromisoformat, help="the day D")
    parser.add_argument("--run-id", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    config = PulseConfig.from_env()
    spark = get_spark(config.spark_master, app_name=f"pulse-retention-{args.date}")
    try:
        run(spark, config, args.date, run_id=args.run_id)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
