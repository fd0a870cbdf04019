"""`attribution_channels`: conversions and revenue credited to each channel by each model."""

from include.pulse.table import Table

TABLE = Table(
    name="attribution_channels",
    package=__name__,
    path="marts/attribution_channels",
    partition_key="dt",
    group="attribution_touchpoints",
    description="per dt, window (1 day, fitting window), model and channel: credited conversions",
    upstream=("events",),
)
