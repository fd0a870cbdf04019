"""`feature_adoption`: one row per feature: adopters, adoption rate, time to adopt."""

from include.pulse.table import Table

TABLE = Table(
    name="feature_adoption",
    package=__name__,
    path="marts/feature_adoption",
    partition_key="dt",
    group="user_engagement",
    description="one row per feature and dt: adopters, adoption rate, uses, days to adopt, score",
    upstream=(
        "user_feature_daily",
        "user_feature_first_seen",
        "users_state",
        "user_engagement",
        "sessions",
    ),
)
