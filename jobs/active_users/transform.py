"""`active_users` transform: the mart of each day read off the `users_state` rows of that day.

Bit k of `days_seen_bits` says whether the user was active on D-k (see
`jobs/users_state/transform.py`), so every count is a sum over one day's states.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.active_users.schema import COUNT_COLUMNS, L30_COLUMNS, SCHEMA


def _window(days: int) -> int:
    """The mask of bits 0 .. days-1: active at least once on [D-days+1, D]."""
    return (1 << days) - 1


def active_users(states: DataFrame, days: list[date]) -> DataFrame:
    """users_state rows (with their `dt`) -> one mart row per day of `days`.

    A day without any state row (nobody active in 64 days) still gets its row, of zeros.
    """
    bits = F.col("days_seen_bits")

    def users(condition: Column) -> Column:
        return F.sum(F.when(condition, 1).otherwise(0)).cast("long")

    def seen(days: int) -> Column:
        return bits.bitwiseAND(F.lit(_window(days))) != 0

    today, yesterday = seen(1), bits.bitwiseAND(F.lit(2)) != 0
    is_new = F.col("first_seen_date") == F.col("dt")
    days_of_30 = F.bit_count(bits.bitwiseAND(F.lit(_window(30))))
    counts = states.groupBy("dt").agg(
        users(today).alias("dau"),
        users(seen(7)).alias("wau"),
        users(seen(30)).alias("mau"),
        users(seen(28)).alias("mau28"),
        users(today & is_new).alias("new_users"),
        users(today & yesterday).alias("returning_users"),
        users(today & ~yesterday & ~is_new).alias("resurrected_users"),
        users(~today & yesterday).alias("dormant_users"),
        *[users(days_of_30 == k).alias(f"l30_{k}") for k in range(1, 31)],
    )
    calendar = states.sparkSession.createDataFrame([(d,) for d in days], "dt date")
    row = calendar.join(counts, "dt", "left").na.fill(0, [*COUNT_COLUMNS, *L30_COLUMNS])

    def ratio(part: str) -> Column:
        return F.when(F.col("mau") > 0, F.col(part) / F.col("mau")).otherwise(F.lit(0.0))

    return row.select(
        F.col("dt"),
        *[F.col(c) for c in COUNT_COLUMNS[:4]],
        ratio("dau").alias("dau_mau"),
        ratio("wau").alias("wau_mau"),
        *[F.col(c) for c in COUNT_COLUMNS[4:]],
        *[F.col(c) for c in L30_COLUMNS],
    )


def check_columns(col: Callable[[str], Any]) -> dict[str, Any]:
    """The cross-column sums the suite checks (`expectations/active_users.json`): the L30
    histogram total and the lifecycle total. Written once for both engines: `col` is `F.col`
    (Spark columns) or a pandas frame's `__getitem__` (its series)."""
    return {
        "l30_total": sum((col(c) for c in L30_COLUMNS[1:]), col(L30_COLUMNS[0])),
        "lifecycle_active": col("new_users") + col("returning_users") + col("resurrected_users"),
    }


def with_checks(mart: DataFrame) -> DataFrame:
    """The mart in its column order plus the cross-column sums its suite checks."""
    return mart.select(
        *SCHEMA.fieldNames(),
        *[column.alias(name) for name, column in check_columns(F.col).items()],
    )
