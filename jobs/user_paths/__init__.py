"""`user_paths`: the steps of each day's sessions, as (depth, from, to) transitions."""

from include.pulse.table import Table

TABLE = Table(
    name="user_paths",
    package=__name__,
    path="marts/user_paths",
    partition_key="dt",
    group="sessions",
    description="per day dt, path set ($all or a funnel's drop-offs), depth and link: sessions",
    upstream=("events",),
)
