"""`user_daily` columns as written (the partition column `event_date` last)."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("event_count", T.LongType(), False),
        T.StructField("session_count", T.LongType(), False),  # distinct non-null session ids
        T.StructField("distinct_event_names", T.LongType(), False),
        T.StructField("first_event_ts", T.TimestampType(), False),
        T.StructField("last_event_ts", T.TimestampType(), False),
        T.StructField("platform", T.StringType(), True),  # of the day's last event that has one
        T.StructField("account_id", T.StringType(), True),  # likewise
        # Of the day's first event that has one: on a user's first active day, the attributes
        # the user arrived with (retention cohort breakdowns).
        T.StructField("first_platform", T.StringType(), True),
        T.StructField("first_channel", T.StringType(), True),
        T.StructField("first_plan", T.StringType(), True),
        # The sum of the day's numeric PULSE_REVENUE_PROPERTY values (any event that has one;
        # null when none has): the monetary side of RFM.
        T.StructField("revenue", T.DoubleType(), True),
        T.StructField("event_date", T.DateType(), False),  # the partition column
    ]
)
