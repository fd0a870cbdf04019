"""`usage_alerts`: one row per alert that fires on dt."""

from include.pulse.table import Table

TABLE = Table(
    name="usage_alerts",
    package=__name__,
    path="marts/usage_alerts",
    partition_key="dt",
    group="user_engagement",
    description="one row per alert firing on dt: inactive, declining, unused, key users",
    # users_state / users_archive: each user's rhythm (mean gap between active days) as of dt.
    upstream=(
        "user_daily",
        "user_feature_daily",
        "user_engagement",
        "users_state",
        "users_archive",
    ),
)
