"""`usage_alerts` columns: a snapshot per `dt` (last); definitions in docs/marts.md."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.engagement import snapshot_schema

SCHEMA = snapshot_schema(
    ("entity_type", T.StringType(), False),
    ("entity_id", T.StringType(), False),
    ("alert", T.StringType(), False),
    ("severity", T.StringType(), False),
    ("observed", T.DoubleType(), False),
    ("threshold", T.DoubleType(), False),
    ("detail", T.StringType(), True),
)
