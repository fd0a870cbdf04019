"""`churn_features`: the churn population at each snapshot dt and its features (data <= dt)."""

from include.pulse.table import Table

TABLE = Table(
    name="churn_features",
    package=__name__,
    path="marts/churn_features",
    partition_key="dt",
    group="churn_features",
    description="one row per user active in the 90 days up to dt: churn model features as of dt",
    # users_state / users_archive: the lifetime features (a user's whole history as of dt);
    # with users_archive_latest, the whole customer base the BG/NBD fit of dt is fitted on.
    upstream=(
        "user_daily",
        "user_first_seen",
        "user_engagement",
        "users_state",
        "users_archive",
        "users_archive_latest",
    ),
    # Window features look back PULSE_CHURN_ACTIVE_DAYS (default 90) days: a change on X
    # reaches [X, X + 89]; tenure (first day ever) only changes with a user's first event. The
    # lifetime features of every later day change too: the active_users chain then publishes
    # (and so marks) each day from X on.
    recomputed=(
        "the run's day and every computed snapshot in [X, X + 89] of a change on X (the window"
        " features look back 90 days); the lifetime features of later snapshots are reached"
        " through `users_state`, which the `active_users` chain republishes, and marks, from X"
        " on. Each snapshot is scored by the model current on its day (a day in the range with"
        " a model due trains one; a day's own version is kept by a later run). Nightly runs go"
        " back `PULSE_LATENESS_DAYS` at most; older changes wait for a backfill"
    ),
)
