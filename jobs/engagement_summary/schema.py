"""`engagement_summary` columns: a snapshot per `dt` (last); definitions in docs/marts.md."""

from __future__ import annotations

from jobs.user_engagement.columns import D, L, snapshot_schema

SCHEMA = snapshot_schema(
    ("total_users", L, False),
    ("total_events", L, False),
    ("avg_actions_per_user", D, True),
    ("median_actions_per_user", D, True),
    ("power_users", L, False),
    ("power_user_pct", D, True),
    ("dormant_pct", D, True),
    ("sessions_per_user_per_week", D, True),
    ("actions_per_session", D, True),
    ("feature_adoption_rate", D, True),
    ("dau_mau", D, True),
)
