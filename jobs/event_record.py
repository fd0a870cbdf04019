"""The columns of one event as the ingest normalises it, shared by `landed_events` (each
arrival's copy) and `events` (the earliest copy): no table owns them, so neither table's package
imports the other's."""

from __future__ import annotations

from pyspark.sql.types import StringType, TimestampType

from include.pulse.table import column

RECORD_FIELDS = (
    column("event_id", StringType(), True, "the producer's event id; null when it sent none"),
    column(
        "user_id",
        StringType(),
        True,
        "who: the first of `user_id`, `customer_id`, `id`, `userid` present, trimmed (a whole"
        " number written with a fraction or exponent as its integer text); never empty",
    ),
    column(
        "event_name",
        StringType(),
        True,
        "what: `event_name` or `event`; matches `^[A-Za-z0-9_$][A-Za-z0-9_ .:/$-]{0,127}$`",
    ),
    column(
        "event_ts",
        TimestampType(),
        True,
        "when, in UTC: the first of `timestamp`, `event_timestamp`, `created_at`,"
        " `event_time` present, ISO-8601 (naive: UTC) or epoch seconds / milliseconds",
    ),
    column("session_id", StringType(), True, "the producer's session id; null when blank"),
    column("platform", StringType(), True, "the platform sent with it; null when blank"),
    column("account_id", StringType(), True, "the account sent with it; null when blank"),
    column(
        "channel",
        StringType(),
        True,
        "the acquisition channel: `channel`, else `utm_source`, trimmed, as written;"
        " null when blank",
    ),
    column("plan", StringType(), True, "the plan sent with it; null when blank"),
    column(
        "properties",
        StringType(),
        True,
        "a JSON object: the row's `properties` plus every unknown input column (string"
        " values; the row's own properties win a clash)",
    ),
    column(
        "source_file",
        StringType(),
        True,
        "the landing file the row came from, relative to its `dt=` folder",
    ),
)
# Their names, in file order.
RECORD_COLUMNS = tuple(f.name for f in RECORD_FIELDS)
