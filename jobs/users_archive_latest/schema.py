"""`users_archive_latest` has the columns of `users_state` (partitioned by the snapshot's
`dt`): each user's latest `users_archive` row on or before it."""

from __future__ import annotations

from pyspark.sql.types import DateType, StructType

from include.pulse.table import column
from jobs.users_state.schema import FILE_SCHEMA as STATE_FILE_SCHEMA

MEANINGS = {
    "user_id": "the user",
    "days_seen_bits": "0: they had left the 64-day window",
    "first_seen_date": "the user's first active day",
    "last_seen_date": "the last active day before they last left",
    "active_days_total": "distinct active days up to then",
    "events_total": "events up to then",
    "platform": "the latest known platform; null: never known",
    "account_id": "the latest known account; null: never known",
    "revenue_total": "revenue up to then, as `users_state.revenue_total` (null: unknown)",
    "gap_sq_total": "the sum of the squared gaps between consecutive active days up to then"
    " (null: unknown)",
    "gap_max_days": "the longest of those gaps, in days (null: unknown)",
}
FILE_SCHEMA = StructType(
    [column(f.name, f.dataType, f.nullable, MEANINGS[f.name]) for f in STATE_FILE_SCHEMA.fields]
)
SCHEMA = StructType(
    [
        *FILE_SCHEMA.fields,
        column(
            "dt",
            DateType(),
            False,
            "the snapshot day, a day of the 28-day grid (days since 1970-01-01 divisible by 28;"
            " partition column)",
        ),
    ]
)
