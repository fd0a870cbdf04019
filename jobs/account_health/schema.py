"""`account_health` columns: a snapshot per `dt` (last); definitions in docs/marts.md."""

from __future__ import annotations

from jobs.user_engagement.columns import D, L, S, snapshot_schema

SCHEMA = snapshot_schema(
    ("account_id", S, False),
    ("active_users", L, False),
    ("dau", L, False),
    ("dau_mau", D, False),
    ("top_user_share", D, False),
    ("power_users", L, False),
    ("mom_change", D, True),
    ("core_feature_adoption_pct", D, True),
    ("health_score", D, False),
    ("usage_pattern", S, False),
)
