"""`events`: one row per distinct event, the analysts' clean event table.

Built by the `events` group (`jobs/events/job.py`, the DAG task `ingest_events`) from each
arrival day's `landed_events`: the copy from the earliest arrival wins.
"""

from include.pulse.table import Table

TABLE = Table(
    name="events",
    package=__name__,
    path="events",
    partition_key="event_date",
    group="events",
    description="one row per distinct event; event_date in PULSE_TIMEZONE",
    upstream=("landed_events",),
)
