"""`users_state`: the users active in the 64 days up to dt, with their activity bits and totals."""

from include.pulse.table import Table

TABLE = Table(
    name="users_state",
    package=__name__,
    path="users_state",
    partition_key="dt",
    group="active_users",
    description="one row per user active in [dt-63, dt]: activity bits, first/last seen, totals",
    upstream=("user_daily",),
)
