"""`attribution_paths_daily` columns; definitions in docs/marts.md "Attribution"."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("path", T.StringType(), False),  # channels joined by " > "; (none)
        T.StructField("conversions", T.LongType(), False),  # conversions of dt with that path
        T.StructField("conversion_value", T.DoubleType(), False),  # their revenue (sorted sum)
        T.StructField("dt", T.DateType(), False),  # the conversions' date, partition column
    ]
)
