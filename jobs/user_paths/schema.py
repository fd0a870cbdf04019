"""`marts/user_paths` columns as written (the partition column `dt` last); definitions in
docs/marts.md "Sessions and paths"."""

from __future__ import annotations

from pyspark.sql.types import DateType, IntegerType, LongType, StringType, StructType

from include.pulse.table import column

EXIT = "$exit"  # the `to_event` of a session's last step
ALL = "$all"  # the `funnel` of the paths of every session (no funnel name starts with `$`)

SCHEMA = StructType(
    [
        column(
            "funnel",
            StringType(),
            False,
            "`$all`: every session of dt, from its first event; a funnel's name: its drop-off"
            " paths, from the step-1 event of each user who entered it on dt and has not"
            " reached its last step, in the session holding that event",
        ),
        column("depth", IntegerType(), False, "k, the step's position, 1 to PULSE_PATH_DEPTH"),
        column("from_event", StringType(), False, "the event name of step k"),
        column(
            "to_event",
            StringType(),
            False,
            "the event name of step k + 1, or `$exit` when step k is the path's last",
        ),
        column(
            "sessions",
            LongType(),
            False,
            "the paths of dt with this link (one per session, or per user who dropped off)",
        ),
        column(
            "dt",
            DateType(),
            False,
            "the sessions' `session_date`, or the funnel entry day (partition column)",
        ),
    ]
)
