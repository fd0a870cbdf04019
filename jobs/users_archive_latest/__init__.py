"""`users_archive_latest`: every 28th day, the latest `users_archive` row of every user who
ever left `users_state`: what the chain reads instead of every archive partition."""

from include.pulse.table import Table

TABLE = Table(
    name="users_archive_latest",
    package=__name__,
    path="users_archive_latest",
    partition_key="dt",
    group="active_users",
    description="every 28th day: the latest users_archive row of each user who ever left",
    upstream=("user_daily",),
    recomputed=(
        "with the chain: every grid day the chain recomputes is rewritten, so a snapshot never"
        " predates a change of the departures it folds in. Equal, per user, to the"
        " `users_archive` row with the latest `dt` on or before its own `dt` (tested)"
    ),
)
