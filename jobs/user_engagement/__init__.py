"""`user_engagement`: one row per user active in the analysis window ending dt."""

from include.pulse.table import Table

TABLE = Table(
    name="user_engagement",
    package=__name__,
    path="marts/user_engagement",
    partition_key="dt",
    group="user_engagement",
    description="one row per user active in the window ending dt: actions, segment, health",
    upstream=("user_daily", "user_feature_daily", "sessions"),
    recomputed=(
        "the run's day, and for a change on X every computed snapshot in [X, X + 89] (each"
        " snapshot looks 90 days back; X: a date `user_daily` or `sessions` republished, or"
        " the users state changed); the alerts' rhythms reach later snapshots through"
        " `users_state`, which the `active_users` chain republishes, and marks, from X on."
        " Nightly runs go back `PULSE_LATENESS_DAYS` at most; older changes wait for a backfill"
    ),
)
