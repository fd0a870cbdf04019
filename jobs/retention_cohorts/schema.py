"""`retention_cohorts` columns: a snapshot per `dt` (last); definitions in docs/marts.md."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("grain", T.StringType(), False),  # day | week | month
        T.StructField("cohort_start", T.DateType(), False),  # first day of the cohort period
        T.StructField("period_number", T.IntegerType(), False),  # k: periods after the cohort's
        T.StructField("cohort_size", T.LongType(), False),
        T.StructField("retained", T.LongType(), False),  # active in period c+k
        T.StructField("retention_rate", T.DoubleType(), False),
        T.StructField("retained_unbounded", T.LongType(), False),  # active in a period >= c+k
        T.StructField("unbounded_rate", T.DoubleType(), False),
        T.StructField("is_complete", T.BooleanType(), False),  # period c+k ended by D
        T.StructField("dimension", T.StringType(), False),  # all | platform | channel | plan
        T.StructField("dimension_value", T.StringType(), False),
        T.StructField("dt", T.DateType(), False),  # the snapshot day D, partition column
    ]
)
