"""`events` columns as written (the partition column `event_date` last)."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("user_id", T.StringType()),
        T.StructField("event_name", T.StringType()),
        T.StructField("event_ts", T.TimestampType()),
        T.StructField("session_id", T.StringType()),
        T.StructField("platform", T.StringType()),
        T.StructField("account_id", T.StringType()),
        T.StructField("channel", T.StringType()),
        T.StructField("plan", T.StringType()),
        T.StructField("properties", T.StringType()),  # a JSON object, unknown columns included
        T.StructField("source_file", T.StringType()),
        T.StructField("arrival_date", T.DateType()),  # the earliest arrival that delivered it
        T.StructField("event_date", T.DateType()),  # the partition column
    ]
)
# The clean columns in file order (the partition column excluded).
EVENT_COLUMNS = tuple(SCHEMA.fieldNames()[:-1])
