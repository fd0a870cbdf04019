"""`churn_features`: the churn population at each snapshot dt and its features (data <= dt)."""

from include.pulse.table import Table

TABLE = Table(
    name="churn_features",
    package=__name__,
    path="marts/churn_features",
    partition_key="dt",
    group="churn_features",
    description="one row per user active in the 90 days up to dt: churn model features as of dt",
    # users_state / users_archive: the lifetime features (a user's whole history as of dt).
    upstream=("user_daily", "user_first_seen", "user_engagement", "users_state", "users_archive"),
    # Window features look back PULSE_CHURN_ACTIVE_DAYS (default 90) days: a change on X
    # reaches [X, X + 89]; tenure (first day ever) only changes with a user's first event. The
    # lifetime features of every later day change too: the active_users chain then publishes
    # (and so marks) each day from X on.
)
