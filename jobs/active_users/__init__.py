"""`active_users`: DAU/WAU/MAU, stickiness, the power-user curve and lifecycle, per day."""

from include.pulse.table import Table

TABLE = Table(
    name="active_users",
    package=__name__,
    path="marts/active_users",
    partition_key="dt",
    group="active_users",
    description="one row per day: DAU/WAU/MAU, stickiness, L30 histogram, lifecycle",
    upstream=("users_state",),
)
