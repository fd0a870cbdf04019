"""`sessions` transforms: which session each event belongs to (`sessionize`), and one row per
session (`sessions`). Pure functions on DataFrames; `jobs/sessions/job.py` does the I/O.

The rules (docs/marts.md "Sessions and paths"):

- events are ordered by (`event_ts`, `event_id`) everywhere, so ties are deterministic (an
  event without an `event_id` comes first at its instant; two such events of one user and
  producer id at one instant differ by name, as the ingest de-duplicates them by it, and
  `event_name` orders them);
- the events of one user with one producer `session_id` form a session, except that a gap
  strictly longer than `PRODUCER_GAP_SECONDS` (12 h) between two of them starts a new one
  (an id reused on a later visit, e.g. the next day, is another session with the same id);
- a user's events without a producer `session_id` are cut into sessions by a gap strictly
  longer than the timeout (PULSE_SESSION_TIMEOUT_MINUTES) after the previous one of them;
  such a session's id is `pulse-` and a hash of the user and its first event's
  (`event_ts`, `event_id`, empty when it has none): the same events give the same id
  whatever the run;
- a session's date is its first event's `event_date`; sessions crossing midnight are not cut.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.sessions.schema import SCHEMA

# Producer ids are trusted over any idle gap a tracker allows (30 min for GA4 and Segment),
# but not across a night: 12 h is far longer than any tracker's timeout, and keeps a session's
# consecutive events less than a (23 h) day apart, as the timeout's 720-minute maximum does.
PRODUCER_GAP_SECONDS = 12 * 3600
DERIVED_PREFIX = "pulse-"
ORDER = ("event_ts", "event_id", "event_name")


def gap_bound_micros(timeout_seconds: int) -> Column:
    """The longest gap inside one session, in microseconds, for the event's kind."""
    return F.when(
        F.col("producer_session_id").isNull(), F.lit(timeout_seconds * 1_000_000)
    ).otherwise(F.lit(PRODUCER_GAP_SECONDS * 1_000_000))


def sessionize(events: DataFrame, timeout_seconds: int) -> DataFrame:
    """Events (the `events` columns) -> the same events with `producer_session_id` (the
    producer's id, null for none), `session_id` (the session's id), `session_start` (its
    first event's time), `session_date` (its first event's `event_date`) and `seq` (the
    event's position in its session, from 1)."""
    frame = events.withColumnRenamed("session_id", "producer_session_id")
    by_key = Window.partitionBy("user_id", "producer_session_id").orderBy(*ORDER)
    micros = F.unix_micros("event_ts")
    gap = micros - F.lag(micros).over(by_key)
    starts = (gap.isNull() | (gap > gap_bound_micros(timeout_seconds))).cast("long")
    frame = frame.withColumn("_starts", starts).withColumn(
        "_n", F.sum("_starts").over(by_key.rowsBetween(Window.unboundedPreceding, 0))
    )
    session = ("user_id", "producer_session_id", "_n")
    first = F.min(F.struct(*ORDER, "event_date")).over(Window.partitionBy(*session))
    frame = frame.withColumn("_first", first)
    derived = F.concat(
        F.lit(DERIVED_PREFIX),
        F.sha2(
            F.concat_ws(
                "\u001f",
                F.col("user_id"),
                F.unix_micros(F.col("_first.event_ts")).cast("string"),
                F.coalesce(F.col("_first.event_id"), F.lit("")),
            ),
            256,
        ).substr(1, 32),
    )
    frame = frame.select(
        "*",
        F.coalesce(F.col("producer_session_id"), derived).alias("session_id"),
        F.col("_first.event_ts").alias("session_start"),
        F.col("_first.event_date").alias("session_date"),
        F.row_number().over(Window.partitionBy(*session).orderBy(*ORDER)).alias("seq"),
    )
    return frame.drop("_starts", "_n", "_first")


def _on_first(column: str) -> Column:
    """`column` of the session's first event where it is set (null when it never is)."""
    return F.min(F.when(F.col(column).isNotNull(), F.struct(*ORDER, column)))[column]


def sessions(sessionized: DataFrame) -> DataFrame:
    """`sessionize`'s events -> one row per session: the `sessions` columns."""
    grouped = sessionized.groupBy("user_id", "session_id", "session_start", "session_date").agg(
        F.max("event_ts").alias("session_end"),
        F.count(F.lit(1)).alias("event_count"),
        F.min(F.struct(*ORDER))["event_name"].alias("entry_event"),
        F.max(F.struct(*ORDER))["event_name"].alias("exit_event"),
        F.array_sort(F.collect_set("event_name")).alias("event_names"),
        _on_first("platform").alias("platform"),
        _on_first("channel").alias("channel"),
    )
    duration = (F.unix_micros("session_end") - F.unix_micros("session_start")) / 1_000_000
    grouped = grouped.withColumn("duration_seconds", duration.cast("double"))
    return grouped.select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])
