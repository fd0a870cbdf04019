"""`landed_events`: each arrival day's clean rows (each event once within the day)."""

from include.pulse.table import Table

TABLE = Table(
    name="landed_events",
    package=__name__,
    path="landed_events",
    partition_key="event_date",  # then arrival_date: event_date=X/arrival_date=D/
    group="events",
    description="each arrival day's clean rows, kept so that any day can be re-run alone",
    recomputed=(
        "by the run of its arrival day D only: re-running a day replaces exactly its own"
        " `arrival_date=D` partitions"
    ),
    checked=(
        "kept with the table but not run by the ingest: the delivery is gated by the `landing`"
        " suite, and these rows, once merged across arrivals, by the `events` suite"
    ),
)
