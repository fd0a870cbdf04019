"""`engagement_summary`: the day's engagement headline, one row per dt."""

from include.pulse.table import Table

TABLE = Table(
    name="engagement_summary",
    package=__name__,
    path="marts/engagement_summary",
    partition_key="dt",
    group="user_engagement",
    description="one row per dt: users, events, power users, dormant share, sessions, stickiness",
    upstream=("user_daily", "user_engagement", "active_users"),
)
