"""`user_engagement` columns: a snapshot per `dt` (last); definitions in docs/marts.md."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.engagement import snapshot_schema

SCHEMA = snapshot_schema(
    ("user_id", T.StringType(), False),
    ("account_id", T.StringType(), True),
    ("total_actions", T.LongType(), False),
    ("first_seen", T.TimestampType(), False),
    ("last_seen", T.TimestampType(), False),
    ("active_days", T.LongType(), False),
    ("span_days", T.LongType(), False),
    ("actions_per_day", T.DoubleType(), False),
    ("actions_per_active_day", T.DoubleType(), False),
    ("sessions", T.LongType(), False),
    ("actions_per_session", T.DoubleType(), True),
    ("features_used", T.LongType(), False),
    ("feature_breadth", T.DoubleType(), False),
    ("is_power_user", T.BooleanType(), False),
    ("recency_days", T.LongType(), False),
    ("segment", T.StringType(), False),
    ("health_score", T.DoubleType(), False),
    ("usage_trend", T.DoubleType(), True),
)
