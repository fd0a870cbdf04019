"""`user_daily`: one row per user per active day, the compact activity table the marts read.

Input: `events/event_date=X/` (clean, de-duplicated events; see `jobs/events.py`).
Output: `user_daily/event_date=X/`, one partition per event date, grain (event_date, user_id).
`event_date` is the date of the events in PULSE_TIMEZONE, exactly as in `events`.

Which dates to rebuild: the `events` job leaves a mark (`_marks/user_daily/`) for every events
partition it republishes; `refresh` rebuilds the marked dates (and any events partition that has
no `user_daily` partition yet, or lost its events), then hands the dates on to the users-state
chain through marks of its own (`_marks/users_state/`). The transform is pure; `refresh` does I/O.
"""

from __future__ import annotations

import logging
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
        T.StructField("event_date", T.DateType(), False),  # the partition column
    ]
)

log = logging.getLogger(__name__)


def _last_known(column: str) -> Column:
    """The value of `column` on the latest event where it is set (ties: the larger value)."""
    latest = F.max(F.when(F.col(column).isNotNull(), F.struct("event_ts", column)))
    return latest[column]


def user_daily(events: DataFrame) -> DataFrame:
    """Events -> one row per (event_date, user_id) with the day's activity summary."""
    daily = events.groupBy("event_date", "user_id").agg(
        F.count(F.lit(1)).alias("event_count"),
        F.count_distinct("session_id").alias("session_count"),
        F.count_distinct("event_name").alias("distinct_event_names"),
        F.min("event_ts").alias("first_event_ts"),
        F.max("event_ts").alias("last_event_ts"),
        _last_known("platform").alias("platform"),
        _last_known("account_id").alias("account_id"),
    )
    return daily.select(*[F.col(f.name).cast(f.dataType) for f in USER_DAILY_SCHEMA.fields])


def refresh(
    spark: SparkSession, warehouse: Warehouse, quality: QualityGate | None = None
) -> list[str]:
    """Rebuild every `user_daily` partition whose events changed; return the dates rebuilt.

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
        # Marked dates, plus self-healing: events without user_daily, user_daily without events.
        dates = sorted(set(marks) | (events_dates - daily_dates) | (daily_dates - events_dates))
        if not dates:
            return []
        staging = warehouse.new_staging("user_daily", f"refresh-{dates[0]}")
        try:
            present = [d for d in dates if d in events_dates]
            if present:
                paths = [str(warehouse.partition("events", ("event_date", d))) for d in present]
                events = (
                    spark.read.schema(EVENTS_SCHEMA)
                    .option("basePath", str(warehouse.table("events")))
                    .parquet(*paths)
                )
                staged = user_daily(events)
                (
                    staged.repartition("event_date")
                    .write.partitionBy("event_date")
                    .parquet(str(staging / "user_daily"))
                )
                if quality is not None:
                    written = spark.read.schema(USER_DAILY_SCHEMA).parquet(
                        str(staging / "user_daily")
                    )
                    quality.validate(written.persist(), "user_daily")
                    written.unpersist()
            # The users-state chain must be recomputed from each of these dates: mark before
            # publishing, so a failure in between leaves work pending rather than lost.
            for d in dates:
                warehouse.mark("users_state", d)
            for d in dates:
                folder = staging / "user_daily" / f"event_date={d}"
                warehouse.publish_partition(
                    folder if folder.exists() else None,
                    warehouse.partition("user_daily", ("event_date", d)),
                )
            warehouse.clear_marks([path for paths in marks.values() for path in paths])
        finally:
            warehouse.discard(staging)
    log.info("user_daily rebuilt for %d date(s): %s", len(dates), ", ".join(dates))
    return dates


def published_dates(warehouse: Warehouse) -> list[date]:
    """The event dates that have a `user_daily` partition."""
    folders = partition_dirs(warehouse.table("user_daily"), "event_date=*")
    return sorted(date.fromisoformat(d) for d in partition_values(folders, "event_date"))
