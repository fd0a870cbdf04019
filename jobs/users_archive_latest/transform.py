"""`users_archive_latest` transform: the latest departure of each user who ever left
`users_state`, on a fixed grid of days (every 28th day from 1970-01-01, whatever the run
order). A chain restarting on D reads the last snapshot before D and the `users_archive`
partitions after it, reduced to one row per user the same way (`latest_archived`), never the
whole archive. Pure functions; `jobs/active_users/job.py` writes the snapshots.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.users_archive_latest.schema import FILE_SCHEMA

# Every 28th day the chain writes a snapshot, so a run reads one snapshot and at most 27 days
# of departures, not every `users_archive` partition of history.
ARCHIVE_SNAPSHOT_DAYS = 28


def is_archive_snapshot_day(day: date) -> bool:
    """The days `users_archive_latest` has a partition: every 28th day from 1970-01-01, a
    fixed grid whatever the run order."""
    return (day - date(1970, 1, 1)).days % ARCHIVE_SNAPSHOT_DAYS == 0


def latest_archived(archive: DataFrame) -> DataFrame:
    """Archive rows (with their `dt`) -> the latest row per user (a user may leave twice)."""
    order = Window.partitionBy("user_id").orderBy(F.col("dt").desc())
    return (
        archive.withColumn("_n", F.row_number().over(order))
        .where(F.col("_n") == 1)
        .select(*FILE_SCHEMA.fieldNames())
    )
