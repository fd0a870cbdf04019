"""`usage_alerts` columns: a snapshot per `dt` (last); definitions in docs/marts.md."""

from __future__ import annotations

from jobs.user_engagement.columns import D, S, snapshot_schema

SCHEMA = snapshot_schema(
    ("entity_type", S, False),
    ("entity_id", S, False),
    ("alert", S, False),
    ("severity", S, False),
    ("observed", D, False),
    ("threshold", D, False),
    ("detail", S, True),
)
