"""`user_feature_first_seen` columns as written (the partition column `first_use_date` last)."""

from __future__ import annotations

from pyspark.sql.types import DateType, StringType, StructType

from include.pulse.table import column

SCHEMA = StructType(
    [
        column("user_id", StringType(), False, "the user"),
        column("feature", StringType(), False, "the event name"),
        column(
            "first_use_date",
            DateType(),
            False,
            "the first day the user sent that event, in `PULSE_TIMEZONE` (partition column)",
        ),
    ]
)
