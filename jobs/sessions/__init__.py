"""`sessions`: one row per session of a user, in the partition of the date it started."""

from include.pulse.table import Table

TABLE = Table(
    name="sessions",
    package=__name__,
    path="sessions",
    partition_key="session_date",
    group="sessions",
    description="one row per session: start, end, duration, events, entry/exit event, attributes",
    upstream=("events",),
    recomputed=(
        "for every event date X the ingest marks: X, X + 1 (a session of X + 1 may now continue"
        " one of X, or no longer), the dates of the sessions that reach X from before (their"
        " users' chains walked back from the midnight before X: normally X - 1, further only"
        " for a session that runs over several nights) and the entry days whose funnel windows"
        " reach X (their drop-off paths); the run's own day D too, the same way, when it has"
        " events and was never built. Nightly runs settle the marks from D -"
        " PULSE_LATENESS_DAYS; older ones wait for a backfill"
    ),
)
