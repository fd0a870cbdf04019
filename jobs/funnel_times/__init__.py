"""`funnel_times`: per entry day, funnel and step, users by time from step 1 (fixed bins)."""

from include.pulse.table import Table

TABLE = Table(
    name="funnel_times",
    package=__name__,
    path="marts/funnel_times",
    partition_key="dt",
    group="funnels",
    description="per entry day dt, funnel, step and bin of seconds from step 1: users",
    upstream=("events",),
)
