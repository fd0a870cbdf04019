"""`user_feature_daily` columns as written (the partition column `event_date` last)."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("feature", T.StringType(), False),  # the event name
        T.StructField("uses", T.LongType(), False),
        T.StructField("sessions", T.LongType(), False),  # distinct non-null session ids
        T.StructField("event_date", T.DateType(), False),  # the partition column
    ]
)
