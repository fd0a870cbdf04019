"""`sessions` columns as written (the partition column `session_date` last); definitions in
docs/marts.md "Sessions and paths"."""

from __future__ import annotations

from pyspark.sql import types as T

from include.pulse.table import column

SCHEMA = T.StructType(
    [
        column("user_id", T.StringType(), False, "the user"),
        column(
            "session_id",
            T.StringType(),
            False,
            "the producer's `session_id`, or `pulse-` and 32 hex digits of SHA-256 over the"
            " user, the first event's time (microseconds) and `event_id` (derived sessions);"
            " a producer id reused after 12 h names a second session, with a later start",
        ),
        column("session_start", T.TimestampType(), False, "the first event's `event_ts` (UTC)"),
        column("session_end", T.TimestampType(), False, "the last event's `event_ts`"),
        column(
            "duration_seconds",
            T.DoubleType(),
            False,
            "`session_end - session_start` in seconds, microseconds kept; 0 for one event",
        ),
        column("event_count", T.LongType(), False, "the session's events"),
        column("entry_event", T.StringType(), False, "the first event's `event_name`"),
        column("exit_event", T.StringType(), False, "the last event's `event_name`"),
        column(
            "platform",
            T.StringType(),
            True,
            "of the session's first event that has one (null when none has)",
        ),
        column("channel", T.StringType(), True, "likewise: the session's channel, when known"),
        column(
            "session_date",
            T.DateType(),
            False,
            "the first event's `event_date` (its date in PULSE_TIMEZONE): sessions across"
            " midnight stay in their first day (partition column)",
        ),
    ]
)
