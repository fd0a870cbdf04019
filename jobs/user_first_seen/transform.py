"""`user_first_seen` transform: a user's first active day, built the way Mozilla builds
`clients_first_seen` (what was known before + the new activity), so no run reads all history."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.user_first_seen.schema import SCHEMA


def user_first_seen(daily: DataFrame, seen_before: DataFrame) -> DataFrame:
    """The users first seen in the days of `daily`, one row each, dated by their first day.

    `daily`: `user_daily` rows of the days [S, E] being rebuilt; `seen_before`: the `user_id`s
    of the `user_first_seen` partitions before S (users first seen earlier, who stay there).
    The first_* columns come from `user_daily` of the first day (the day's first event that has
    each one), so the row is exactly what a scan of all history would give.
    """
    first = daily.groupBy("user_id").agg(
        F.min(F.struct("event_date", "first_platform", "first_channel", "first_plan")).alias("f")
    )
    return (
        first.join(seen_before.select("user_id"), "user_id", "left_anti")
        .select(
            "user_id",
            *[F.col(f"f.{c}").alias(c) for c in ("first_platform", "first_channel", "first_plan")],
            F.col("f.event_date").alias("first_seen_date"),
        )
        .select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])
    )
