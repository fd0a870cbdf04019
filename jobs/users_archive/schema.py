"""`users_archive` has the columns of `users_state` (partitioned by the `dt` a user left it),
with the meanings of a departure."""

from __future__ import annotations

from pyspark.sql.types import DateType, StructType

from include.pulse.table import column
from jobs.users_state.schema import FILE_SCHEMA as STATE_FILE_SCHEMA

MEANINGS = {
    "user_id": "the user",
    "days_seen_bits": "0: no active day in the 64 days up to dt",
    "first_seen_date": "the user's first active day",
    "last_seen_date": "the last active day before they left: dt - 64",
    "active_days_total": "distinct active days from first_seen_date to last_seen_date",
    "events_total": "events from first_seen_date to last_seen_date",
    "platform": "the latest known platform; null: never known",
    "account_id": "the latest known account; null: never known",
    "revenue_total": "revenue up to last_seen_date, as `users_state.revenue_total` (null: unknown)",
    "gap_sq_total": "the sum of the squared gaps between consecutive active days (null: unknown)",
    "gap_max_days": "the longest of those gaps, in days (null: unknown)",
}
FILE_SCHEMA = StructType(
    [column(f.name, f.dataType, f.nullable, MEANINGS[f.name]) for f in STATE_FILE_SCHEMA.fields]
)
SCHEMA = StructType(
    [
        *FILE_SCHEMA.fields,
        column("dt", DateType(), False, "the day the user left `users_state` (partition column)"),
    ]
)
