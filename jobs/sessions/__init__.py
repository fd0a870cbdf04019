"""`sessions`: one row per session of a user, in the partition of the date it started."""

from include.pulse.table import Table

TABLE = Table(
    name="sessions",
    package=__name__,
    path="sessions",
    partition_key="session_date",
    group="sessions",
    description="one row per session: start, end, duration, events, entry/exit event, attributes",
    upstream=("events",),
)
