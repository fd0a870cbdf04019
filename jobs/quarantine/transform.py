"""`quarantine`: the rows of an arrival day that cannot be events, each with its reason."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.quarantine.schema import QUARANTINE_COLUMNS

# Quarantine reason codes, in the order they are checked (a row gets the first that applies).
REASONS = (
    "invalid_record",  # the line is not valid JSON (an object) / CSV
    "invalid_encoding",  # bytes that are not UTF-8 (read as U+FFFD), or a literal U+FFFD
    "ambiguous_columns",  # two keys equal once trimmed and lower-cased, or a repeated key
    "missing_user_id",
    "empty_user_id",
    "invalid_user_id",  # a JSON boolean, object or array, or a number too big to write out
    "missing_event_name",
    "invalid_event_name",
    "missing_timestamp",
    "unparseable_timestamp",
    "stale_timestamp",  # more than PULSE_MAX_EVENT_AGE_DAYS before the arrival day
    "future_timestamp",  # later than 1 day after the arrival day ends
    "invalid_properties",  # `properties` present but not a JSON object
)


def quarantine_rows(normalized: DataFrame) -> DataFrame:
    """The rejected rows, with their reason and what was readable of them."""
    return normalized.where(F.col("reason").isNotNull()).select(*QUARANTINE_COLUMNS)
