"""`users_state` columns. `FILE_SCHEMA`: as stored in each `dt=D/` folder; `SCHEMA`: with the
partition column `dt` last (as read from the table)."""

from __future__ import annotations

from pyspark.sql import types as T

WINDOW_DAYS = 64  # bits in `days_seen_bits`


FILE_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("days_seen_bits", T.LongType(), False),
        T.StructField("first_seen_date", T.DateType(), False),
        T.StructField("last_seen_date", T.DateType(), False),
        T.StructField("active_days_total", T.LongType(), False),
        T.StructField("events_total", T.LongType(), False),
        T.StructField("platform", T.StringType(), True),
        T.StructField("account_id", T.StringType(), True),
    ]
)

SCHEMA = T.StructType([*FILE_SCHEMA.fields, T.StructField("dt", T.DateType(), False)])
