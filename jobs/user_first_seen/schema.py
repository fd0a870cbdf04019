"""`user_first_seen` columns as written (the partition column `first_seen_date` last)."""

from __future__ import annotations

from pyspark.sql.types import DateType, StringType, StructType

from include.pulse.table import column

SCHEMA = StructType(
    [
        column("user_id", StringType(), False, "the user"),
        # `user_daily`'s first_* of the user's first active day: what the user arrived with.
        column(
            "first_platform",
            StringType(),
            True,
            "`user_daily.first_platform` of the first active day: the platform of its first"
            " event that has one; null when none has",
        ),
        column(
            "first_channel",
            StringType(),
            True,
            "likewise, the channel the user arrived from (`user_daily.first_channel`)",
        ),
        column("first_plan", StringType(), True, "likewise, the plan (`user_daily.first_plan`)"),
        column(
            "first_seen_date",
            DateType(),
            False,
            "the user's first active day in `PULSE_TIMEZONE` (partition column)",
        ),
    ]
)
