"""`feature_adoption` columns: a snapshot per `dt` (last); definitions in docs/marts.md."""

from __future__ import annotations

from jobs.user_engagement.columns import D, L, S, snapshot_schema

SCHEMA = snapshot_schema(
    ("feature", S, False),
    ("tier", S, True),
    ("adopters", L, False),
    ("adoption_rate", D, False),
    ("new_adopters", L, False),
    ("total_uses", L, False),
    ("uses_per_adopter", D, True),
    ("median_days_to_adopt", D, True),
    ("adoption_score", D, True),
)
