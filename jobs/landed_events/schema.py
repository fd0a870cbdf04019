"""`landed_events` columns: the events columns plus the de-duplication key, partitioned by
(event_date, arrival_date)."""

from __future__ import annotations

from pyspark.sql.types import DateType, StringType, StructType

from include.pulse.table import column
from jobs.event_record import RECORD_FIELDS

SCHEMA = StructType(
    [
        *RECORD_FIELDS,
        column(
            "dedup_key",
            StringType(),
            True,
            "`id:` + `event_id` when the event has one, else `k:` + the SHA-256 of (user_id,"
            " session_id, event_name, event_ts in microseconds): what de-duplication compares",
        ),
        column(
            "event_date",
            DateType(),
            True,
            "the date of `event_ts` in `PULSE_TIMEZONE` (first partition column)",
        ),
        column(
            "arrival_date",
            DateType(),
            True,
            "the arrival day whose landing folder delivered the row (second partition column)",
        ),
    ]
)
