"""`attribution_paths`: per snapshot day, the distinct paths of its fitting window, as
attribution libraries take them (what the Markov and Shapley models are fitted on). Pure
functions on DataFrames; definitions in docs/marts.md "Attribution".

- `open_paths`: as of each snapshot day, each user's non-converting path (from the journeys of
  `jobs/attribution_touchpoints/transform.py`).
- `paths_table`: the converting paths of the window (`attribution_paths_daily` rows of its
  days) and the open ones, with their counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from include.pulse.aggregates import ordered_sum
from jobs.attribution import MICROS_PER_DAY, Rules, in_window, path_text, snapshots


def open_paths(journey: DataFrame, dts: Sequence[date], rules: Rules) -> DataFrame:
    """(dt, user_id, path): as of the end of each day dt, each user's touches since their last
    conversion within the lookback [end of dt - L, end of dt); users with none have no row.

    As for a conversion (`path_touches` in `attribution_touchpoints`), the runs are formed
    from the events of that lookback: a touch is an event after the last conversion (no
    conversion on or before dt follows it) that starts a run within the lookback, its previous
    event in the run being none or older; only its time and channel make the path."""
    lookback = F.lit(rules.lookback_days * MICROS_PER_DAY)
    event_date, next_date, previous = F.col("event_date"), F.col("next_date"), F.col("previous_ts")

    def holds(dt: Column) -> Column:
        since = F.unix_micros(_day_end(dt, rules.timezone)) - lookback
        return (
            (event_date <= dt)
            & (event_date >= F.date_sub(dt, rules.lookback_days + 1))
            & (next_date.isNull() | (next_date > dt))
            & (F.unix_micros("event_ts") >= since)
            & (previous.isNull() | (F.unix_micros(previous) < since))
        )

    rows = journey.where(F.col("kind") == 0).select(
        "user_id",
        F.col("event_ts").alias("touch_ts"),
        "touch_seq",
        "channel",
        F.explode(snapshots(dts, holds)).alias("dt"),
    )
    return rows.groupBy("dt", "user_id").agg(
        path_text(F.array_sort(F.collect_list(F.struct("touch_ts", "touch_seq", "channel")))).alias(
            "path"
        )
    )


def _day_end(dt: Column, timezone: str) -> Column:
    """The first instant after day `dt` in `timezone` (UTC timestamp)."""
    return F.to_utc_timestamp(F.date_add(dt, 1).cast("timestamp"), timezone)


def paths_table(
    daily: DataFrame, opened: DataFrame, dts: Sequence[date], rules: Rules
) -> DataFrame:
    """`marts/attribution_paths`: per dt, the distinct paths of the conversions in
    [dt - W + 1, dt] (from `daily_paths` of those days) and the non-converting paths as of dt,
    with their counts."""
    converting = daily.select(
        F.explode(snapshots(dts, in_window(F.col("conversion_date"), rules))).alias("dt"),
        "path",
        "conversions",
        F.col("conversion_value").alias("value"),
        F.lit(0).cast("long").alias("nulls"),
    )
    non_converting = opened.select(
        "dt",
        "path",
        F.lit(0).cast("long").alias("conversions"),
        F.lit(0.0).alias("value"),
        F.lit(1).cast("long").alias("nulls"),
    )
    return (
        converting.unionByName(non_converting)
        .groupBy("dt", "path")
        .agg(
            F.sum("conversions").cast("long").alias("total_conversions"),
            ordered_sum(F.col("value")).alias("total_conversion_value"),
            F.sum("nulls").cast("long").alias("total_null"),
        )
        .select(
            F.lit(rules.window_days).cast("int").alias("window_days"),
            "path",
            "total_conversions",
            "total_conversion_value",
            "total_null",
            "dt",
        )
    )
