"""`feature_adoption` columns: a snapshot per `dt` (last); definitions in docs/marts.md."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.engagement import snapshot_schema

SCHEMA = snapshot_schema(
    ("feature", T.StringType(), False),
    ("tier", T.StringType(), True),
    ("adopters", T.LongType(), False),
    ("adoption_rate", T.DoubleType(), False),
    ("new_adopters", T.LongType(), False),
    ("total_uses", T.LongType(), False),
    ("uses_per_adopter", T.DoubleType(), True),
    ("median_days_to_adopt", T.DoubleType(), True),
    ("adoption_score", T.DoubleType(), True),
)
