"""`sessions` columns as written (the partition column `session_date` last); definitions in
jobs/sessions/README.md and docs/marts.md "Sessions and paths"."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        # The producer's id, or `pulse-` and a hash of the user and the first event (derived).
        T.StructField("session_id", T.StringType(), False),
        T.StructField("session_start", T.TimestampType(), False),  # the first event's time
        T.StructField("session_end", T.TimestampType(), False),  # the last event's time
        T.StructField("duration_seconds", T.DoubleType(), False),  # end minus start
        T.StructField("event_count", T.LongType(), False),
        T.StructField("entry_event", T.StringType(), False),  # the first event's name
        T.StructField("exit_event", T.StringType(), False),  # the last event's name
        # Of the session's first event that has one (null when none has).
        T.StructField("platform", T.StringType(), True),
        T.StructField("channel", T.StringType(), True),
        # The first event's `event_date` (its date in PULSE_TIMEZONE): the partition column.
        T.StructField("session_date", T.DateType(), False),
    ]
)
