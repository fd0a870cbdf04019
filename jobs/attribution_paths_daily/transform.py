"""`attribution_paths_daily`: each day's converting paths, summed (what the fitting windows
of later snapshots add up instead of re-reading their events). Pure functions on DataFrames;
the credited touches come from `jobs/attribution_touchpoints/transform.py`, the path's text
from `jobs/attribution.py`. Definitions in docs/marts.md "Attribution".

- `conversion_paths`: one row per conversion with its path.
- `daily_paths`: per conversion day and path, conversions and their value.
- `paths_daily_table`: the table's rows of the snapshot days; `stored_daily_paths`: its rows
  read back as `daily_paths` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from include.pulse.aggregates import ordered_sum
from jobs.attribution import path_text


def conversion_paths(credited: DataFrame) -> DataFrame:
    """One row per conversion: conversion_date, revenue and `path`."""
    return credited.groupBy("user_id", "conversion_id", "conversion_date", "revenue").agg(
        path_text(F.array_sort(F.collect_list(F.struct("position", "channel")))).alias("path"),
    )


def daily_paths(per_conversion: DataFrame) -> DataFrame:
    """(conversion_date, path, conversions, conversion_value): each day's converting paths
    summed (the value added in sorted order, so a day's sum is the same wherever computed)."""
    return per_conversion.groupBy("conversion_date", "path").agg(
        F.count(F.lit(1)).cast("long").alias("conversions"),
        ordered_sum(F.col("revenue")).alias("conversion_value"),
    )


def paths_daily_table(daily: DataFrame, dts: Sequence[date]) -> DataFrame:
    """`attribution_paths_daily` of the snapshot days."""
    return daily.where(F.col("conversion_date").isin(list(dts))).select(
        "path", "conversions", "conversion_value", F.col("conversion_date").alias("dt")
    )


def stored_daily_paths(rows: DataFrame) -> DataFrame:
    """`attribution_paths_daily` rows read back -> `daily_paths` rows."""
    return rows.select(
        F.col("dt").alias("conversion_date"), "path", "conversions", "conversion_value"
    )
