"""`marts/user_paths` transforms: the first steps of each session and where each led
(`user_paths`), and the same from the step-1 event of each funnel entry that did not convert
(`dropoff_paths`).

A path's steps are its events in (`event_ts`, `event_id`) order with consecutive repeats of
one event name collapsed into one step. For each of its first `depth` steps
(PULSE_PATH_DEPTH) a path contributes one link: (k, step k, step k + 1), or (k, step k,
`$exit`) when step k is its last. The mart counts the paths of each (funnel, dt, depth, from,
to). Pure; `jobs/sessions/job.py` does the I/O.

- `$all` paths: every session dated dt, from its first event;
- a funnel's drop-off paths: for each user who entered the funnel on dt and whose chain
  (`jobs/funnels/transform.py`: the longest, earliest among equals) did not reach the last
  step, the session holding the chain's step-1 event, from that event on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.funnel_definitions import Funnels
from jobs.funnels.transform import best_chains, chains, step_events
from jobs.user_paths.schema import ALL, EXIT, SCHEMA

SESSION = ("user_id", "session_id", "session_start")


def _links(events: DataFrame, path: tuple[str, ...], depth: int) -> DataFrame:
    """`events` (one row per event of a path: the `path` columns, `funnel`, `dt`, `seq`,
    `event_name`) -> the mart's rows."""
    in_order = Window.partitionBy(*path).orderBy("seq")
    repeated = (F.row_number().over(in_order) > 1) & F.col("event_name").eqNullSafe(
        F.lag("event_name").over(in_order)
    )
    steps = (
        events.withColumn("_repeated", repeated)
        .where(~F.col("_repeated"))
        .withColumn("depth", F.row_number().over(in_order))
        .where(F.col("depth") <= depth + 1)
    )
    nxt = F.lead(F.struct("event_name")).over(Window.partitionBy(*path).orderBy("depth"))
    transitions = steps.select(
        "funnel",
        "dt",
        "depth",
        F.col("event_name").alias("from_event"),
        F.when(nxt.isNull(), F.lit(EXIT)).otherwise(nxt["event_name"]).alias("to_event"),
    ).where(F.col("depth") <= depth)
    counted = transitions.groupBy("funnel", "dt", "depth", "from_event", "to_event").agg(
        F.count(F.lit(1)).alias("sessions")
    )
    return counted.select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])


def user_paths(sessionized: DataFrame, depth: int) -> DataFrame:
    """`jobs.sessions.transform.sessionize`'s events of the sessions to count (every event
    of each) -> the `$all` rows, by the sessions' `session_date`."""
    events = sessionized.select(
        *SESSION,
        F.lit(ALL).alias("funnel"),
        F.col("session_date").alias("dt"),
        "seq",
        "event_name",
    )
    return _links(events, SESSION, depth)


def dropoff_paths(sessionized: DataFrame, entries: DataFrame, depth: int) -> DataFrame:
    """Drop-off rows. `entries`: `not_converted`'s rows (the step-1 event of each entry that
    did not convert: its `event_id`, time in microseconds and name); `sessionized`: every
    event of the sessions holding those events (and maybe more)."""
    # The step-1 event: by its id; an event without one (the chain has no id either) by its
    # time and name, the first session in order if two producer sessions hold such a twin.
    candidates = sessionized.select(
        *SESSION,
        F.col("event_id").alias("_id"),
        F.unix_micros("event_ts").alias("_ts"),
        F.col("event_name").alias("_name"),
        F.col("seq").alias("at"),
    )
    matched = entries.join(
        candidates,
        (entries["user_id"] == candidates["user_id"])
        & entries["start_id"].eqNullSafe(candidates["_id"])
        & (entries["start_ts"] == candidates["_ts"])
        & (entries["start_event"] == candidates["_name"]),
    ).drop(candidates["user_id"])
    first = Window.partitionBy("funnel", "dt", "user_id").orderBy("session_start", "session_id")
    starts = (
        matched.withColumn("_n", F.row_number().over(first))
        .where(F.col("_n") == 1)
        .select("funnel", "dt", *SESSION, "at")
    )
    path = ("funnel", "dt", *SESSION)
    events = starts.join(sessionized.select(*SESSION, "seq", "event_name"), list(SESSION)).where(
        F.col("seq") >= F.col("at")
    )
    return _links(events.select(*path, "seq", "event_name"), path, depth)


def not_converted(best: DataFrame, funnels: Funnels) -> DataFrame:
    """`jobs.funnels.transform.best_chains` rows -> (funnel, dt, user_id, start_id, start_ts,
    start_event) of the chains short of their funnel's last step."""
    last: Column = F.lit(None).cast("int")
    first: Column = F.lit(None).cast("string")
    for f in funnels.funnels:
        last = F.when(F.col("funnel") == f.name, F.lit(len(f.steps))).otherwise(last)
        first = F.when(F.col("funnel") == f.name, F.lit(f.steps[0].event)).otherwise(first)
    return best.where(F.col("level") < last).select(
        "funnel",
        "dt",
        "user_id",
        "start_id",
        F.element_at("times", 1).alias("start_ts"),
        first.alias("start_event"),
    )


def paths_table(
    touching: DataFrame, events: DataFrame, funnels: Funnels, dts: Sequence[date], depth: int
) -> DataFrame:
    """The mart's rows of the days `dts`. `touching`: `sessionize`'s events of every session
    holding an event of `dts` (all their events); `events`: the activity events of `dts` up to
    the last day their funnels' windows reach (any superset)."""
    paths = user_paths(touching.where(F.col("session_date").isin(list(dts))), depth)
    if not funnels.funnels:
        return paths
    best = best_chains(chains(step_events(events, funnels), funnels, dts))
    entries = not_converted(best, funnels)
    return paths.unionByName(dropoff_paths(touching, entries, depth))
