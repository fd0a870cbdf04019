"""`attribution_touchpoints`: every conversion of dt and its touches, credited by each model."""

from include.pulse.table import Table

TABLE = Table(
    name="attribution_touchpoints",
    package=__name__,
    path="marts/attribution_touchpoints",
    partition_key="dt",
    group="attribution_touchpoints",
    description="one row per conversion on dt and touch of its path: credit of each model",
    upstream=("events",),
    # With the default windows: a change on X reaches [X, X + W + L] (W = 90 days of fitting
    # window, L = 30 days of lookback); the planner derives it from the run's settings.
)
