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
    recomputed=(
        "the run's day and every computed snapshot (a partition of `attribution_paths`, the"
        " group's first table) in [X, X + W + L] of a changed events date X (W ="
        " `PULSE_ATTRIBUTION_WINDOW_DAYS`, L = `PULSE_ATTRIBUTION_LOOKBACK_DAYS`: 121 days with"
        " the defaults), in one pass. Nightly runs go back `PULSE_LATENESS_DAYS` at most; older"
        " changes wait for a backfill"
    ),
)
