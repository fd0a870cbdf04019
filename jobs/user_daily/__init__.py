"""`user_daily`: one row per user per active day, the compact activity table the marts read."""

from include.pulse.table import Table

TABLE = Table(
    name="user_daily",
    package=__name__,
    path="user_daily",
    partition_key="event_date",
    group="user_daily",
    description="one row per user per active day: events, sessions, first/last event, attributes",
    upstream=("events",),
    recomputed=(
        "every event date the `events` group marked (each `events` partition it republishes), "
        "plus any date where `events`, `user_daily` and `user_feature_daily` disagree on "
        "existence (rebuilt, or removed when its events are gone); no lateness cutoff"
    ),
)
