"""`user_feature_daily` columns as written (the partition column `event_date` last)."""

from __future__ import annotations

from pyspark.sql.types import DateType, LongType, StringType, StructType

from include.pulse.table import column

SCHEMA = StructType(
    [
        column("user_id", StringType(), False, "the user"),
        column("feature", StringType(), False, "the event name"),
        column("uses", LongType(), False, "the user's events of that name that day"),
        column(
            "sessions",
            LongType(),
            False,
            "distinct non-null producer `session_id`s of those events (not sessions: no mart"
            " reads it; the engagement marts count a feature's sessions from `sessions`)",
        ),
        column(
            "event_date", DateType(), False, "the active day in `PULSE_TIMEZONE` (partition column)"
        ),
    ]
)
