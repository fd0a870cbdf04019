"""`user_first_seen` columns as written (the partition column `first_seen_date` last)."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        # `user_daily`'s first_* of the user's first active day: what the user arrived with.
        T.StructField("first_platform", T.StringType(), True),
        T.StructField("first_channel", T.StringType(), True),
        T.StructField("first_plan", T.StringType(), True),
        T.StructField("first_seen_date", T.DateType(), False),  # the partition column
    ]
)
