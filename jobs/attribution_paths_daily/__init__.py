"""`attribution_paths_daily`: each day's converting paths, summed: what the fitting windows of
later snapshots add up instead of re-reading their events."""

from include.pulse.table import Table

TABLE = Table(
    name="attribution_paths_daily",
    package=__name__,
    path="attribution_paths_daily",
    partition_key="dt",
    group="attribution_touchpoints",
    description="per conversion day and converting path: conversions and their value",
    upstream=("events",),
    recomputed=(
        "with the snapshot of the same dt (a change on X reaches the conversions of"
        " [X, X + L + 1], inside the snapshots' reach [X, X + W + L])"
    ),
)
