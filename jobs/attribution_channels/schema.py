"""`attribution_channels` columns; definitions in docs/marts.md "Attribution"."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("window_days", T.IntegerType(), False),  # 1 or PULSE_ATTRIBUTION_WINDOW_DAYS
        T.StructField("model", T.StringType(), False),
        T.StructField("channel", T.StringType(), False),
        T.StructField("conversions", T.DoubleType(), False),  # credited conversions
        T.StructField("revenue", T.DoubleType(), False),  # credited revenue
        T.StructField("share", T.DoubleType(), False),  # of the window's conversions
        T.StructField("removal_effect", T.DoubleType(), True),  # markov only
        T.StructField("dt", T.DateType(), False),
    ]
)
