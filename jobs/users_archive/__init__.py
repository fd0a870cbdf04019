"""`users_archive`: the users who left `users_state` on dt (so a user back later keeps history)."""

from include.pulse.table import Table

TABLE = Table(
    name="users_archive",
    package=__name__,
    path="users_archive",
    partition_key="dt",
    group="active_users",
    description="users whose 64-day window emptied on dt, with their totals",
    upstream=("user_daily",),
)
