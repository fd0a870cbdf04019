"""`user_first_seen`: one row per user, in the partition of the user's first active day."""

from include.pulse.table import Table

TABLE = Table(
    name="user_first_seen",
    package=__name__,
    path="user_first_seen",
    partition_key="first_seen_date",
    group="user_first_seen",
    description="one row per user ever active: first active day and the attributes of that day",
    upstream=("user_daily",),
)
