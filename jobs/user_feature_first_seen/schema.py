"""`user_feature_first_seen` columns as written (the partition column `first_use_date` last)."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("feature", T.StringType(), False),  # the event name
        T.StructField("first_use_date", T.DateType(), False),  # the partition column
    ]
)
