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
    recomputed=(
        "a change of activity on X can only move first days on X or later, so a run rebuilds "
        "every day from the earliest marked X to the last day with activity (a nightly run not "
        "before D - `PULSE_LATENESS_DAYS`; older marks wait for a backfill). The first run on a "
        "warehouse builds it whole. The rows equal a scan of all of `user_daily` (tested)"
    ),
)
