"""`engagement_summary` columns: a snapshot per `dt` (last); definitions in docs/marts.md."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.engagement import snapshot_schema

SCHEMA = snapshot_schema(
    ("total_users", T.LongType(), False),
    ("total_events", T.LongType(), False),
    ("avg_actions_per_user", T.DoubleType(), True),
    ("median_actions_per_user", T.DoubleType(), True),
    ("power_users", T.LongType(), False),
    ("power_user_pct", T.DoubleType(), True),
    ("dormant_pct", T.DoubleType(), True),
    ("sessions_per_user_per_week", T.DoubleType(), True),
    ("actions_per_session", T.DoubleType(), True),
    ("feature_adoption_rate", T.DoubleType(), True),
    ("dau_mau", T.DoubleType(), True),
)
