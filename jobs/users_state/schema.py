"""`users_state` columns. `FILE_SCHEMA`: as stored in each `dt=D/` folder; `SCHEMA`: with the
partition column `dt` last (as read from the table)."""

from __future__ import annotations

from pyspark.sql.types import DateType, DoubleType, LongType, StringType, StructType

from include.pulse.table import column

WINDOW_DAYS = 64  # bits in `days_seen_bits`


FILE_SCHEMA = StructType(
    [
        column("user_id", StringType(), False, "the user"),
        column(
            "days_seen_bits",
            LongType(),
            False,
            "bit k set: active on dt - k (bit 0: dt; bit 63 is the sign bit)",
        ),
        column(
            "first_seen_date",
            DateType(),
            False,
            "the user's first active day (kept across an absence through `users_archive`)",
        ),
        column("last_seen_date", DateType(), False, "the user's last active day up to dt"),
        column(
            "active_days_total",
            LongType(),
            False,
            "distinct active days since first_seen_date (running total)",
        ),
        column(
            "events_total",
            LongType(),
            False,
            "events since first_seen_date (running total of `user_daily.event_count`)",
        ),
        column(
            "platform",
            StringType(),
            True,
            "the latest known platform (`user_daily.platform`); null: never known",
        ),
        column(
            "account_id",
            StringType(),
            True,
            "the latest known account (`user_daily.account_id`); null: never known",
        ),
        # The sum of the user's `user_daily.revenue` since first seen (a day without a value
        # adds 0), added day by day in date order from the carried total, so a chain run in
        # steps of any length gives the same double. Null: unknown, carried from a state
        # written before this column (a rebuild of the chain from its origin fills it).
        column(
            "revenue_total",
            DoubleType(),
            True,
            "the sum of `user_daily.revenue` since first seen (a day without a value adds 0),"
            " added day by day in date order; null: unknown (carried from a state written"
            " before the column; a rebuild of the chain from its origin fills it)",
        ),
        # The gaps between consecutive active days (in days; as many as active_days_total - 1):
        # the sum of their squares and the longest, 0 with one active day. With the sum of the
        # gaps (last_seen_date - first_seen_date) they give the gaps' spread, the regularity
        # of a user's rhythm. Integers: exact in any order. Null: unknown, as revenue_total.
        column(
            "gap_sq_total",
            LongType(),
            True,
            "the sum of the squared gaps in days between consecutive active days (0 with one"
            " active day); null: unknown, as revenue_total",
        ),
        column(
            "gap_max_days",
            LongType(),
            True,
            "the longest gap in days between consecutive active days (0 with one active day);"
            " null: unknown, as revenue_total",
        ),
    ]
)

SCHEMA = StructType(
    [*FILE_SCHEMA.fields, column("dt", DateType(), False, "the state's day (partition column)")]
)
