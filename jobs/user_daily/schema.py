"""`user_daily` columns as written (the partition column `event_date` last)."""

from __future__ import annotations

from pyspark.sql.types import DateType, DoubleType, LongType, StringType, StructType, TimestampType

from include.pulse.table import column

SCHEMA = StructType(
    [
        column("user_id", StringType(), False, "the user"),
        column(
            "event_count",
            LongType(),
            False,
            "the user's events that day (`PULSE_EXCLUDED_EVENTS` / `_USERS` left out)",
        ),
        column("session_count", LongType(), False, "distinct non-null `session_id`s of the day"),
        column("distinct_event_names", LongType(), False, "distinct `event_name`s of the day"),
        column("first_event_ts", TimestampType(), False, "the day's first `event_ts` (UTC)"),
        column("last_event_ts", TimestampType(), False, "the day's last `event_ts` (UTC)"),
        column(
            "platform",
            StringType(),
            True,
            "the platform of the day's last event that has one; null when none has",
        ),
        column(
            "account_id",
            StringType(),
            True,
            "the account of the day's last event that has one; null when none has",
        ),
        # Of the day's first event that has one: on a user's first active day, the attributes
        # the user arrived with (retention cohort breakdowns).
        column(
            "first_platform",
            StringType(),
            True,
            "the platform of the day's first event that has one (on the user's first day: what"
            " they arrived with, for the retention breakdowns); null when none has",
        ),
        column(
            "first_channel",
            StringType(),
            True,
            "the channel of the day's first event that has one; null when none has",
        ),
        column(
            "first_plan",
            StringType(),
            True,
            "the plan of the day's first event that has one; null when none has",
        ),
        # The sum of the day's numeric PULSE_REVENUE_PROPERTY values (any event that has one;
        # null when none has): the monetary side of RFM.
        column(
            "revenue",
            DoubleType(),
            True,
            "the sum of the day's `PULSE_REVENUE_PROPERTY` values that are finite numbers"
            " (numeric text counts; any event; negative values kept), in ascending order;"
            " null when no event of the day has one",
        ),
        column(
            "event_date", DateType(), False, "the active day in `PULSE_TIMEZONE` (partition column)"
        ),
    ]
)
