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
    recomputed=(
        "for every event date X the ingest marks: X (if it has events or a partition) and the"
        " partitions of the entry days whose windows reach X (X - ceil(window / 1 day) .. X - 1"
        " in UTC, exact in other zones), and the run's own day when it has events; an entry"
        " day still open (`complete` false) also marks"
        " the last date its windows reach, so a later run closes it. Nightly runs settle the"
        " marks from D - PULSE_LATENESS_DAYS minus that reach; older ones wait for a backfill"
    ),
)
