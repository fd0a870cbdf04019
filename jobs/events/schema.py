"""`events` columns as written (the partition column `event_date` last)."""

from __future__ import annotations

from pyspark.sql.types import DateType, StructType

from include.pulse.table import column
from jobs.event_record import RECORD_FIELDS

SCHEMA = StructType(
    [
        *RECORD_FIELDS,
        column(
            "arrival_date",
            DateType(),
            True,
            "the landing day that delivered it (the earliest, for an event delivered twice)",
        ),
        column(
            "event_date",
            DateType(),
            True,
            "the date of `event_ts` in `PULSE_TIMEZONE` (partition column)",
        ),
    ]
)
# The clean columns in file order (the partition column excluded).
EVENT_COLUMNS = tuple(SCHEMA.fieldNames()[:-1])
