"""`user_engagement` columns: a snapshot per `dt` (last); definitions in docs/marts.md."""

from __future__ import annotations

from jobs.user_engagement.columns import TS, B, D, L, S, snapshot_schema

SCHEMA = snapshot_schema(
    ("user_id", S, False),
    ("account_id", S, True),
    ("total_actions", L, False),
    ("first_seen", TS, False),
    ("last_seen", TS, False),
    ("active_days", L, False),
    ("span_days", L, False),
    ("actions_per_day", D, False),
    ("actions_per_active_day", D, False),
    ("sessions", L, False),
    ("actions_per_session", D, True),
    ("features_used", L, False),
    ("feature_breadth", D, False),
    ("is_power_user", B, False),
    ("recency_days", L, False),
    ("segment", S, False),
    ("health_score", D, False),
    ("usage_trend", D, True),
)
