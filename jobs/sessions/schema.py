"""`sessions` columns as written (the partition column `session_date` last); definitions in
docs/marts.md "Sessions and paths"."""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    LongType,
    StringType,
    StructType,
    TimestampType,
)

from include.pulse.table import column

SCHEMA = StructType(
    [
        column("user_id", StringType(), False, "the user"),
        column(
            "session_id",
            StringType(),
            False,
            "the producer's `session_id`, or `pulse-` and 32 hex digits of SHA-256 over the"
            " user, the first event's time (microseconds) and `event_id` (derived sessions);"
            " a producer id reused after 12 h names a second session, with a later start",
        ),
        column("session_start", TimestampType(), False, "the first event's `event_ts` (UTC)"),
        column("session_end", TimestampType(), False, "the last event's `event_ts`"),
        column(
            "duration_seconds",
            DoubleType(),
            False,
            "`session_end - session_start` in seconds, microseconds kept; 0 for one event",
        ),
        column("event_count", LongType(), False, "the session's events"),
        column("entry_event", StringType(), False, "the first event's `event_name`"),
        column("exit_event", StringType(), False, "the last event's `event_name`"),
        column(
            "event_names",
            ArrayType(StringType(), False),
            False,
            "the session's distinct `event_name`s, sorted: the features it used (the"
            " engagement marts count a feature's sessions from it)",
        ),
        column(
            "platform",
            StringType(),
            True,
            "of the session's first event that has one (null when none has)",
        ),
        column("channel", StringType(), True, "likewise: the session's channel, when known"),
        column(
            "session_date",
            DateType(),
            False,
            "the first event's `event_date` (its date in PULSE_TIMEZONE): sessions across"
            " midnight stay in their first day (partition column)",
        ),
    ]
)
