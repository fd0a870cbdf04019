"""`funnel_times` columns, partition column `dt` (the entry day) last; definitions in
docs/marts.md "Funnels"."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("funnel", T.StringType(), False),
        T.StructField("step", T.IntegerType(), False),  # 2.. (step 1 is at 0 s)
        T.StructField("step_event", T.StringType(), False),
        T.StructField("bin", T.IntegerType(), False),  # 0-based
        T.StructField("seconds_from", T.LongType(), False),  # bin * bin_seconds, included
        T.StructField("seconds_to", T.LongType(), False),  # (bin + 1) * bin_seconds, excluded
        T.StructField("users", T.LongType(), False),
        T.StructField("complete", T.BooleanType(), False),
        T.StructField("dt", T.DateType(), False),
    ]
)
