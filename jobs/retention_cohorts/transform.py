"""`retention_cohorts` transform: the cohort matrix of each snapshot by grain (day, ISO week,
calendar month) and breakdown, from the compact activity tables (never raw events).
Definitions: docs/marts.md "Retention". Pure functions; `jobs/retention_cohorts/job.py` does
the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from include.pulse.config import PulseConfig
from jobs.retention_cohorts.schema import SCHEMA

EPOCH = date(1970, 1, 1)


FIRST_MONDAY = date(1970, 1, 5)  # ISO weeks start on Monday


UNKNOWN = "unknown"  # a breakdown value the user's first day did not carry


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


def cohort_users(first_seen: DataFrame, start_days: DataFrame | None = None) -> DataFrame:
    """One row per user: `user_id, cohort_day` and the breakdown values of the user's first event.

    `first_seen`: `user_first_seen` rows (one per user: the first active day and the first_*
    attributes of that day). `cohort_day` is the user's first active day, or with `start_days`
    (user_id, event_date of a start event) the first day of that event; users without one are
    in no cohort.
    """
    users = first_seen.select(
        "user_id",
        F.col("first_seen_date").alias("cohort_day"),
        *[F.coalesce(F.col(f"first_{d}"), F.lit(UNKNOWN)).alias(d) for d in DIMENSIONS],
    )
    if start_days is None:
        return users
    started = start_days.groupBy("user_id").agg(F.min("event_date").alias("cohort_day"))
    return users.drop("cohort_day").join(started, "user_id")


def retention_cohorts(
    users: DataFrame, active_days: DataFrame, dts: list[date], rules: Rules
) -> DataFrame:
    """The cohort matrix of every snapshot in `dts` (see SCHEMA).

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
    return conform(_known_dimensions(result), SCHEMA)


def _known_dimensions(frame: DataFrame) -> DataFrame:
    """Drop a breakdown whose every value is `unknown` in a snapshot (e.g. no event has a plan)."""
    from pyspark.sql import Window

    scope = Window.partitionBy("dt", "grain", "dimension")
    known = F.max((F.col("dimension_value") != UNKNOWN).cast("int")).over(scope)
    kept = frame.withColumn("_known", known).where(
        (F.col("dimension") == "all") | (F.col("_known") == 1)
    )
    return kept.drop("_known")


def conform(frame: DataFrame, schema: T.StructType) -> DataFrame:
    return frame.select(*[F.col(f.name).cast(f.dataType) for f in schema.fields])
