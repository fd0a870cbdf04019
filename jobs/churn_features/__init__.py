"""`churn_features`: the churn population at each snapshot dt and its features (data <= dt)."""

from include.pulse.table import Table

TABLE = Table(
    name="churn_features",
    package=__name__,
    path="marts/churn_features",
    partition_key="dt",
    group="churn_features",
    description="one row per user active in the 90 days up to dt: churn model features as of dt",
    upstream=("user_daily", "user_first_seen", "user_engagement"),
    # Features look back PULSE_CHURN_ACTIVE_DAYS (default 90) days: a change on X reaches
    # [X, X + 89]; tenure (first day ever) only changes with a user's first event.
    horizon_days=90,
)
