"""`user_daily`: one row per user per active day, the compact activity table the marts read,
and `user_feature_daily`: one row per user, feature (event name) and active day.

Input: `events/event_date=X/` (clean, de-duplicated events; see `jobs/events.py`), minus the
events that are not user activity (PULSE_EXCLUDED_EVENTS / PULSE_EXCLUDED_USERS).
Output: `user_daily/event_date=X/` (grain event_date, user_id) and `user_feature_daily/
event_date=X/` (grain event_date, user_id, feature). `event_date` is the date of the events in
PULSE_TIMEZONE, exactly as in `events`.

Which dates to rebuild: the `events` job leaves a mark (`_marks/user_daily/`) for every events
partition it republishes; `refresh` rebuilds the marked dates (and any events partition that has
no `user_daily` partition yet, or lost its events), then hands the dates on to the users-state
chain, the engagement marts and the retention marts through marks of their own
(`_marks/users_state/`, `_marks/engagement/`, `_marks/retention/`). The transforms are pure;
`refresh` does I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from include.pulse.quality import QualityGate
from include.pulse.warehouse import Warehouse, partition_dirs, partition_values
from jobs.events import EVENTS_SCHEMA

USER_DAILY_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("event_count", T.LongType(), False),
        T.StructField("session_count", T.LongType(), False),  # distinct non-null session ids
        T.StructField("distinct_event_names", T.LongType(), False),
        T.StructField("first_event_ts", T.TimestampType(), False),
        T.StructField("last_event_ts", T.TimestampType(), False),
        T.StructField("platform", T.StringType(), True),  # of the day's last event that has one
        T.StructField("account_id", T.StringType(), True),  # likewise
        # Of the day's first event that has one: on a user's first active day, the attributes
        # the user arrived with (retention cohort breakdowns).
        T.StructField("first_platform", T.StringType(), True),
        T.StructField("first_channel", T.StringType(), True),
        T.StructField("first_plan", T.StringType(), True),
        T.StructField("event_date", T.DateType(), False),  # the partition column
    ]
)

USER_FEATURE_DAILY_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("feature", T.StringType(), False),  # the event name
        T.StructField("uses", T.LongType(), False),
        T.StructField("sessions", T.LongType(), False),  # distinct non-null session ids
        T.StructField("event_date", T.DateType(), False),  # the partition column
    ]
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exclusions:
    """Events that are not user activity: by event name or user id; `*` matches anything."""

    events: tuple[str, ...] = ()
    users: tuple[str, ...] = ()


def _matches(column: str, patterns: tuple[str, ...]) -> Column:
    condition = F.lit(False)
    for pattern in patterns:
        escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition = condition | F.col(column).like(escaped.replace("*", "%"))
    return condition


def activity(events: DataFrame, exclusions: Exclusions) -> DataFrame:
    """The events that count as user activity (all of them unless exclusions are configured)."""
    excluded = _matches("event_name", exclusions.events) | _matches("user_id", exclusions.users)
    return events.where(~excluded)


def user_feature_daily(events: DataFrame) -> DataFrame:
    """Events -> one row per (event_date, user_id, feature): uses and distinct sessions."""
    daily = events.groupBy("event_date", "user_id", F.col("event_name").alias("feature")).agg(
        F.count(F.lit(1)).alias("uses"),
        F.count_distinct("session_id").alias("sessions"),
    )
    return daily.select(*[F.col(f.name).cast(f.dataType) for f in USER_FEATURE_DAILY_SCHEMA.fields])


def _on_event(pick: Callable[[Column], Column], column: str) -> Column:
    """The value of `column` on the event `pick` (F.min: earliest, F.max: latest) chooses among
    those where it is set (ties: the smaller / larger value)."""
    return pick(F.when(F.col(column).isNotNull(), F.struct("event_ts", column)))[column]


def user_daily(events: DataFrame) -> DataFrame:
    """Events -> one row per (event_date, user_id) with the day's activity summary."""
    daily = events.groupBy("event_date", "user_id").agg(
        F.count(F.lit(1)).alias("event_count"),
        F.count_distinct("session_id").alias("session_count"),
        F.count_distinct("event_name").alias("distinct_event_names"),
        F.min("event_ts").alias("first_event_ts"),
        F.max("event_ts").alias("last_event_ts"),
        _on_event(F.max, "platform").alias("platform"),
        _on_event(F.max, "account_id").alias("account_id"),
        _on_event(F.min, "platform").alias("first_platform"),
        _on_event(F.min, "channel").alias("first_channel"),
        _on_event(F.min, "plan").alias("first_plan"),
    )
    return daily.select(*[F.col(f.name).cast(f.dataType) for f in USER_DAILY_SCHEMA.fields])


def refresh(
    spark: SparkSession,
    warehouse: Warehouse,
    quality: QualityGate | None = None,
    exclusions: Exclusions = Exclusions(),
) -> list[str]:
    """Rebuild the `user_daily` and `user_feature_daily` partitions of every event date whose
    events changed; return the dates rebuilt.

    The caller holds the `marts` lock; this takes the `events` lock while it reads events so
    that no ingest republishes a partition under it.
    """
    with warehouse.lock("events"):
        marks = warehouse.marks("user_daily")
        events_dates = partition_values(
            partition_dirs(warehouse.table("events"), "event_date=*"), "event_date"
        )
        daily_dates = partition_values(
            partition_dirs(warehouse.table("user_daily"), "event_date=*"), "event_date"
        )
        feature_dates = partition_values(
            partition_dirs(warehouse.table("user_feature_daily"), "event_date=*"), "event_date"
        )
        # Marked dates, plus self-healing: events without user_daily (or per feature), or the
        # reverse. (A date whose events are all excluded has no user_daily: it is re-checked
        # by every run, correct but not free.)
        dates = sorted(
            set(marks)
            | (events_dates - daily_dates)
            | (daily_dates - events_dates)
            | (events_dates - feature_dates)
            | (feature_dates - events_dates)
        )
        if not dates:
            return []
        staging = warehouse.new_staging("user_daily", f"refresh-{dates[0]}")
        try:
            present = [d for d in dates if d in events_dates]
            if present:
                paths = [str(warehouse.partition("events", ("event_date", d))) for d in present]
                events = activity(
                    spark.read.schema(EVENTS_SCHEMA)
                    .option("basePath", str(warehouse.table("events")))
                    .parquet(*paths),
                    exclusions,
                ).persist()
                for table, transform, schema in (
                    ("user_daily", user_daily, USER_DAILY_SCHEMA),
                    ("user_feature_daily", user_feature_daily, USER_FEATURE_DAILY_SCHEMA),
                ):
                    (
                        transform(events)
                        .repartition("event_date")
                        .write.partitionBy("event_date")
                        .parquet(str(staging / table))
                    )
                    if quality is not None and (staging / table).exists():
                        written = spark.read.schema(schema).parquet(str(staging / table))
                        quality.validate_written(written, table)
                events.unpersist()
            # The users-state chain must be recomputed from each of these dates: mark before
            # publishing, so a failure in between leaves work pending rather than lost.
            for d in dates:
                warehouse.mark("users_state", d)
                warehouse.mark("engagement", d)
                warehouse.mark("retention", d)
            for d in dates:
                for table in ("user_daily", "user_feature_daily"):
                    folder = staging / table / f"event_date={d}"
                    warehouse.publish_partition(
                        folder if folder.exists() else None,
                        warehouse.partition(table, ("event_date", d)),
                    )
            warehouse.clear_marks([path for paths in marks.values() for path in paths])
        finally:
            warehouse.discard(staging)
    log.info(
        "user_daily (and per feature) rebuilt for %d date(s): %s", len(dates), ", ".join(dates)
    )
    return dates


def published_dates(warehouse: Warehouse) -> list[date]:
    """The event dates that have a `user_daily` partition."""
    folders = partition_dirs(warehouse.table("user_daily"), "event_date=*")
    return sorted(date.fromisoformat(d) for d in partition_values(folders, "event_date"))
