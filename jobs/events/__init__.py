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
    recomputed=(
        "by the run of each arrival day D (DAG task `ingest_events`) for every event date D's "
        "rows touch, now or in its previous run (and those of later copies whose verdict D's "
        "copies decide), from all arrivals' `landed_events` of that date; arrival days are not "
        "marks, so no lateness cutoff applies. A copy is a duplicate when another copy of the "
        "event arrived in the `PULSE_DEDUP_WINDOW_DAYS` (7) arrival days before it, at any "
        "event date, or earlier at the same date: the run reads the keys of those windows, "
        "never all of history"
    ),
)
