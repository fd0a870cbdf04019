"""`marts/user_paths` transform: the first steps of each session and where each led.

A session's steps are its events in (`event_ts`, `event_id`) order with consecutive repeats of
one event name collapsed into one step. For each of its first `depth` steps (PULSE_PATH_DEPTH)
a session contributes one transition: (k, step k, step k + 1), or (k, step k, `$exit`) when
step k is its last. The mart counts the sessions of each (dt, depth, from, to), dt being the
sessions' `session_date`. Pure; `jobs/sessions/job.py` does the I/O.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.user_paths.schema import EXIT, SCHEMA


def user_paths(sessionized: DataFrame, depth: int) -> DataFrame:
    """`jobs.sessions.transform.sessionize`'s events -> the `marts/user_paths` rows."""
    session = ("user_id", "session_id", "session_start")
    in_order = Window.partitionBy(*session).orderBy("seq")
    previous = F.lag("event_name").over(in_order)
    steps = (
        sessionized.select(*session, "session_date", "seq", "event_name")
        .withColumn("_repeat", F.col("seq") > 1)
        .withColumn("_previous", previous)
        .where(~(F.col("_repeat") & F.col("event_name").eqNullSafe(F.col("_previous"))))
        .withColumn("depth", F.row_number().over(in_order))
        .where(F.col("depth") <= depth + 1)
    )
    following = Window.partitionBy(*session).orderBy("depth")
    nxt = F.lead(F.struct("event_name")).over(following)
    transitions = steps.select(
        "session_date",
        "depth",
        F.col("event_name").alias("from_event"),
        F.when(nxt.isNull(), F.lit(EXIT)).otherwise(nxt["event_name"]).alias("to_event"),
    ).where(F.col("depth") <= depth)
    counted = transitions.groupBy(
        F.col("session_date").alias("dt"), "depth", "from_event", "to_event"
    ).agg(F.count(F.lit(1)).alias("sessions"))
    return counted.select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])
