"""`user_feature_daily`: one row per user, feature (event name) and active day."""

from include.pulse.table import Table

TABLE = Table(
    name="user_feature_daily",
    package=__name__,
    path="user_feature_daily",
    partition_key="event_date",
    group="user_daily",
    description="one row per user, feature (event name) and active day: uses and sessions",
    upstream=("events",),
)
