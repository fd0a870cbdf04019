"""`users_state` columns. `FILE_SCHEMA`: as stored in each `dt=D/` folder; `SCHEMA`: with the
partition column `dt` last (as read from the table)."""

from __future__ import annotations

from pyspark.sql import types as T

WINDOW_DAYS = 64  # bits in `days_seen_bits`


FILE_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("days_seen_bits", T.LongType(), False),
        T.StructField("first_seen_date", T.DateType(), False),
        T.StructField("last_seen_date", T.DateType(), False),
        T.StructField("active_days_total", T.LongType(), False),
        T.StructField("events_total", T.LongType(), False),
        T.StructField("platform", T.StringType(), True),
        T.StructField("account_id", T.StringType(), True),
        # The sum of the user's `user_daily.revenue` since first seen (a day without a value
        # adds 0), added day by day in date order from the carried total, so a chain run in
        # steps of any length gives the same double. Null: unknown, carried from a state
        # written before this column (a rebuild of the chain from its origin fills it).
        T.StructField("revenue_total", T.DoubleType(), True),
        # The gaps between consecutive active days (in days; as many as active_days_total - 1):
        # the sum of their squares and the longest, 0 with one active day. With the sum of the
        # gaps (last_seen_date - first_seen_date) they give the gaps' spread, the regularity
        # of a user's rhythm. Integers: exact in any order. Null: unknown, as revenue_total.
        T.StructField("gap_sq_total", T.LongType(), True),
        T.StructField("gap_max_days", T.LongType(), True),
    ]
)

SCHEMA = T.StructType([*FILE_SCHEMA.fields, T.StructField("dt", T.DateType(), False)])
