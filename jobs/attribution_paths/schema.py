"""`attribution_paths` columns; definitions in docs/marts.md "Attribution"."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("window_days", T.IntegerType(), False),  # PULSE_ATTRIBUTION_WINDOW_DAYS
        T.StructField("path", T.StringType(), False),  # channels joined by " > "
        T.StructField("total_conversions", T.LongType(), False),
        T.StructField("total_conversion_value", T.DoubleType(), False),
        T.StructField("total_null", T.LongType(), False),  # non-converting paths as of dt
        T.StructField("dt", T.DateType(), False),
    ]
)
