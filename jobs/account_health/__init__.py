"""`account_health`: one row per account: activity, concentration, health and usage pattern."""

from include.pulse.table import Table

TABLE = Table(
    name="account_health",
    package=__name__,
    path="marts/account_health",
    partition_key="dt",
    group="user_engagement",
    description="one row per account and dt: active users, stickiness, health, usage pattern",
    upstream=("user_daily", "user_feature_daily", "user_engagement"),
)
