"""`marts/user_paths` columns as written (the partition column `dt` last); definitions in
jobs/user_paths/README.md and docs/marts.md "Sessions and paths"."""

from __future__ import annotations

from pyspark.sql import types as T

EXIT = "$exit"  # the `to_event` of a session's last step

SCHEMA = T.StructType(
    [
        T.StructField("depth", T.IntegerType(), False),  # the step's position, 1-based
        T.StructField("from_event", T.StringType(), False),  # the step's event name
        T.StructField("to_event", T.StringType(), False),  # the next step's, or `$exit`
        T.StructField("sessions", T.LongType(), False),
        T.StructField("dt", T.DateType(), False),  # the sessions' `session_date`
    ]
)
