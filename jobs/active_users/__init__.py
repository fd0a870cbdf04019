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
    recomputed=(
        "the users-state chain, from the earliest marked date (or the first day without a "
        "state) through the later of the run's day and the last day with a state: a change of "
        "`user_daily` on X recomputes `users_state`, `users_archive` and `active_users` of "
        "every day from X on. Nightly runs go back `PULSE_LATENESS_DAYS` at most; older changes "
        "wait for a backfill"
    ),
)
