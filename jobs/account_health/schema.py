"""`account_health` columns: a snapshot per `dt` (last); definitions in docs/marts.md."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.engagement import snapshot_schema

SCHEMA = snapshot_schema(
    ("account_id", T.StringType(), False),
    ("active_users", T.LongType(), False),
    ("dau", T.LongType(), False),
    ("dau_mau", T.DoubleType(), False),
    ("top_user_share", T.DoubleType(), False),
    ("power_users", T.LongType(), False),
    ("mom_change", T.DoubleType(), True),
    ("core_feature_adoption_pct", T.DoubleType(), True),
    ("health_score", T.DoubleType(), False),
    ("usage_pattern", T.StringType(), False),
)
