"""`retention_curve` columns: a snapshot per `dt` (last); definitions in docs/marts.md."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("grain", T.StringType(), False),
        T.StructField("period_number", T.IntegerType(), False),
        T.StructField("cohorts", T.LongType(), False),  # complete cohorts averaged
        T.StructField("cohort_users", T.LongType(), False),  # their users (the weights' sum)
        T.StructField("retention_rate", T.DoubleType(), False),
        T.StructField("unbounded_rate", T.DoubleType(), False),
        T.StructField("dimension", T.StringType(), False),
        T.StructField("dimension_value", T.StringType(), False),
        T.StructField("dt", T.DateType(), False),
    ]
)
