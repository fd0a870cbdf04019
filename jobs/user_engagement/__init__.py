"""`user_engagement`: one row per user active in the analysis window ending dt."""

from include.pulse.table import Table

TABLE = Table(
    name="user_engagement",
    package=__name__,
    path="marts/user_engagement",
    partition_key="dt",
    group="user_engagement",
    description="one row per user active in the window ending dt: actions, segment, health",
    upstream=("user_daily", "user_feature_daily"),
)
