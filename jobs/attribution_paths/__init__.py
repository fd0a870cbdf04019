"""`attribution_paths`: the fitting window's distinct paths, as attribution libraries take them."""

from include.pulse.table import Table

TABLE = Table(
    name="attribution_paths",
    package=__name__,
    path="marts/attribution_paths",
    partition_key="dt",
    group="attribution_touchpoints",
    description="per dt and distinct path of the fitting window: conversions, value, nulls",
    upstream=("events",),
)
