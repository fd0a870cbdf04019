"""`user_feature_first_seen`: one row per user and feature, in the partition of its first use."""

from include.pulse.table import Table

TABLE = Table(
    name="user_feature_first_seen",
    package=__name__,
    path="user_feature_first_seen",
    partition_key="first_use_date",
    group="user_first_seen",
    description="one row per user and feature (event name) ever used: the day of first use",
    upstream=("user_feature_daily",),
)
