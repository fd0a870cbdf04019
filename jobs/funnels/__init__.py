"""`funnels`: per entry day, funnel, breakdown value and step, the users who reached it."""

from include.pulse.table import Table

TABLE = Table(
    name="funnels",
    package=__name__,
    path="marts/funnels",
    partition_key="dt",
    group="funnels",
    description="per entry day dt, funnel, breakdown value and step: users, conversion, times",
    upstream=("events",),
)
