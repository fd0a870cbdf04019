"""`retention_cohorts` transform: the cohort matrix of each snapshot by grain (day, ISO week,
calendar month) and breakdown, an aggregate of the per-user state (`retention_users_state`,
built by `jobs/retention_users_state/transform.py`; never raw events). Definitions:
docs/marts.md "Retention". Pure functions; `jobs/retention_cohorts/job.py` does the I/O.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from include.pulse.frames import conform
from jobs.retention_cohorts.schema import SCHEMA
from jobs.retention_rules import DIMENSIONS, UNKNOWN, Rules, period_index, period_start


def retention_cohorts(states: DataFrame, rules: Rules) -> DataFrame:
    """The cohort matrix of every snapshot of `states` (see SCHEMA): an aggregate of the
    per-user states (`retention_state`), one per snapshot `dt`."""
    per_user = _member_periods(states, rules)
    matrix = _counts_by_breakdown(_counts_by_values(per_user))
    return conform(_known_dimensions(_matrix_rows(matrix)), SCHEMA)


def _of_grain(what: str) -> Column:
    """The state's `<grain>_<what>` column of the row's `grain`."""
    grain = F.col("grain")
    return (
        F.when(grain == "day", F.col(f"day_{what}"))
        .when(grain == "week", F.col(f"week_{what}"))
        .otherwise(F.col(f"month_{what}"))
    )


def _member_periods(states: DataFrame, rules: Rules) -> DataFrame:
    """One row per (snapshot, grain, member of one of its cohorts): `now` and `cohort` period
    numbers, the active periods and the last one."""
    spark = states.sparkSession
    shapes = spark.createDataFrame(
        [(s.grain, s.cohorts, s.periods) for s in rules.shapes],
        "grain string, cohorts int, periods int",
    )
    # One row per (snapshot, grain, member): the periods (k) they were active in, from the
    # cohort on and up to the snapshot, and the last of them.
    return (
        states.crossJoin(F.broadcast(shapes))
        .select(
            "dt",
            "grain",
            "periods",
            *DIMENSIONS,
            period_index(F.col("grain"), F.col("dt")).alias("now"),
            period_index(F.col("grain"), F.col("cohort_day")).alias("cohort"),
            "cohorts",
            _of_grain("active").alias("active"),
            _of_grain("last").alias("last"),
        )
        .where(F.col("cohort") > F.col("now") - F.col("cohorts"))
    )


def _counts_by_values(per_user: DataFrame) -> DataFrame:
    """Per (dt, grain, cohort, period_number, breakdown values): `cohort_size`, `retained`,
    `retained_unbounded`."""
    # Every cell up to D (cells after D are not emitted), counted first per combination of
    # breakdown values, then per breakdown: a user is retained in k if active in c+k, and
    # retained unbounded if their last active period is >= c+k.
    return (
        per_user.select(
            "dt",
            "grain",
            "cohort",
            *DIMENSIONS,
            "active",
            "last",
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


def _counts_by_breakdown(by_values: DataFrame) -> DataFrame:
    """The counts per `dimension` (and `all`) and `dimension_value`."""
    breakdowns = F.array(
        F.struct(F.lit("all").alias("dimension"), F.lit("all").alias("value")),
        *[F.struct(F.lit(d).alias("dimension"), F.col(d).alias("value")) for d in DIMENSIONS],
    )
    return (
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


def _matrix_rows(matrix: DataFrame) -> DataFrame:
    """The matrix's columns: period starts, rates and whether each cell is complete."""
    next_start = period_start(F.col("grain"), F.col("cohort") + F.col("period_number") + 1)
    return matrix.select(
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


def _known_dimensions(frame: DataFrame) -> DataFrame:
    """Drop a breakdown whose every value is `unknown` in a snapshot (e.g. no event has a plan)."""
    from pyspark.sql import Window

    scope = Window.partitionBy("dt", "grain", "dimension")
    known = F.max((F.col("dimension_value") != UNKNOWN).cast("int")).over(scope)
    kept = frame.withColumn("_known", known).where(
        (F.col("dimension") == "all") | (F.col("_known") == 1)
    )
    return kept.drop("_known")
