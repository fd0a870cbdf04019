"""`quarantine` columns: what was readable of a rejected row, its reason, and its raw text."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("source_file", T.StringType()),
        T.StructField("reason", T.StringType()),  # one of `REASONS` (jobs/quarantine/transform.py)
        T.StructField("raw", T.StringType()),  # the line as delivered (JSON / CSV text)
        T.StructField("user_id", T.StringType()),
        T.StructField("event_name", T.StringType()),
        T.StructField("event_time", T.StringType()),  # the time text as delivered
        T.StructField("dt", T.DateType()),  # the partition column: the arrival day
    ]
)
QUARANTINE_COLUMNS = tuple(SCHEMA.fieldNames()[:-1])
