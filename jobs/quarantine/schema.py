"""`quarantine` columns: what was readable of a rejected row, its reason, and its raw text."""

from __future__ import annotations

from pyspark.sql.types import DateType, StringType, StructType

from include.pulse.table import column

SCHEMA = StructType(
    [
        column(
            "source_file",
            StringType(),
            True,
            "the landing file the row came from, relative to its `dt=` folder",
        ),
        column(
            "reason",
            StringType(),
            True,
            "why it was rejected: the first of `REASONS` (jobs/quarantine/transform.py) that"
            " applies; codes in docs/input-contract.md",
        ),
        column(
            "raw",
            StringType(),
            True,
            "the record as delivered: a JSON line's text; a CSV or parquet record as a JSON"
            " object of its values (an unreadable CSV record: its text)",
        ),
        column(
            "user_id",
            StringType(),
            True,
            "what could be read of the user id (after aliases), for triage; null when none",
        ),
        column(
            "event_name",
            StringType(),
            True,
            "what could be read of the event name, for triage; null when none",
        ),
        column(
            "event_time",
            StringType(),
            True,
            "the time text as delivered (unparsed), for triage; null when none",
        ),
        column("dt", DateType(), True, "the arrival day (partition column)"),
    ]
)
QUARANTINE_COLUMNS = tuple(SCHEMA.fieldNames()[:-1])
