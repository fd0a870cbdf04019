"""`user_feature_daily` transform: one row per user, feature (event name) and active day."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.user_feature_daily.schema import SCHEMA


def user_feature_daily(events: DataFrame) -> DataFrame:
    """Events -> one row per (event_date, user_id, feature): uses and distinct sessions."""
    daily = events.groupBy("event_date", "user_id", F.col("event_name").alias("feature")).agg(
        F.count(F.lit(1)).alias("uses"),
        F.count_distinct("session_id").alias("sessions"),
    )
    return daily.select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])
