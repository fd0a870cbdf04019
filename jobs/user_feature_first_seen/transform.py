"""`user_feature_first_seen` transform: the day a user first used each feature (event name)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.user_feature_first_seen.schema import SCHEMA


def user_feature_first_seen(feature_daily: DataFrame, used_before: DataFrame) -> DataFrame:
    """The (user, feature) pairs first used in the days of `feature_daily`, dated by that day.

    `feature_daily`: `user_feature_daily` rows of the days [S, E] being rebuilt;
    `used_before`: (user_id, feature) of the `user_feature_first_seen` partitions before S.
    """
    first = feature_daily.groupBy("user_id", "feature").agg(
        F.min("event_date").alias("first_use_date")
    )
    return first.join(
        used_before.select("user_id", "feature"), ["user_id", "feature"], "left_anti"
    ).select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])
