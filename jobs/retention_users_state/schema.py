"""`retention_users_state` columns. `FILE_SCHEMA`: as stored in each `dt=D/` folder; `SCHEMA`:
with the partition column `dt` last (as read from the table)."""

from __future__ import annotations

from pyspark.sql import types as T

PERIODS = T.ArrayType(T.IntegerType())

FILE_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        # The user's first active day (with a start event: the first day of that event).
        T.StructField("cohort_day", T.DateType(), False),
        # The breakdown values of the user's first active day (`unknown` when none).
        T.StructField("platform", T.StringType(), False),
        T.StructField("channel", T.StringType(), False),
        T.StructField("plan", T.StringType(), False),
        # Per grain: the periods k (0 = the cohort's own, below the grain's number of periods)
        # the user was active in up to dt, ascending, and the last k active in (any k).
        T.StructField("day_active", PERIODS, False),
        T.StructField("day_last", T.IntegerType(), False),
        T.StructField("week_active", PERIODS, False),
        T.StructField("week_last", T.IntegerType(), False),
        T.StructField("month_active", PERIODS, False),
        T.StructField("month_last", T.IntegerType(), False),
        # The rules the state was built under (`Rules.fingerprint`): other rules rebuild it.
        T.StructField("rules", T.StringType(), False),
    ]
)

SCHEMA = T.StructType([*FILE_SCHEMA.fields, T.StructField("dt", T.DateType(), False)])
