"""`funnels` columns, partition column `dt` (the entry day) last; definitions in
docs/marts.md "Funnels"."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("funnel", T.StringType(), False),
        T.StructField("breakdown", T.StringType(), False),  # all, platform, channel, plan
        T.StructField("breakdown_value", T.StringType(), False),  # `all` for all; `unknown`
        T.StructField("step", T.IntegerType(), False),  # 1-based
        T.StructField("step_event", T.StringType(), False),
        T.StructField("users", T.LongType(), False),  # entered on dt and reached the step
        T.StructField("conversion_from_previous", T.DoubleType(), True),  # null: 0 before
        T.StructField("conversion_from_first", T.DoubleType(), False),
        T.StructField("median_seconds_to_step", T.DoubleType(), True),  # null: no user
        T.StructField("p90_seconds_to_step", T.DoubleType(), True),
        T.StructField("complete", T.BooleanType(), False),
        T.StructField("dt", T.DateType(), False),
    ]
)
BREAKDOWNS = ("all", "platform", "channel", "plan")
# The breakdown value of an entry whose event has no value for the column.
UNKNOWN = "unknown"
