"""`landed_events`: an arrival day's clean rows, each event once within the day, kept so that any
day can be re-run or backfilled without re-reading the other days' landing files."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.event_record import RECORD_COLUMNS


def dedup_key(
    event_id: Column, user_id: Column, session_id: Column, event_name: Column, event_ts: Column
) -> Column:
    """`event_id` when present, else a hash of (user_id, session_id, event_name, event_ts)."""
    natural = F.to_json(
        F.array(
            user_id,
            F.coalesce(session_id, F.lit("")),
            event_name,
            F.unix_micros(event_ts).cast("string"),
        )
    )
    return F.when(event_id.isNotNull(), F.concat(F.lit("id:"), event_id)).otherwise(
        F.concat(F.lit("k:"), F.sha2(natural, 256))
    )


def landed_events(normalized: DataFrame) -> DataFrame:
    """Clean rows of one arrival day, each event kept once (the same event delivered twice in
    the day is kept once, the first by source file and raw text, so re-runs pick the same row).

    Output: `RECORD_COLUMNS` + `arrival_date` + `event_date` + `dedup_key` + `is_duplicate`
    (true for the copies).
    """
    clean = normalized.where(F.col("reason").isNull()).withColumn(
        "dedup_key",
        dedup_key(
            F.col("event_id"),
            F.col("user_id"),
            F.col("session_id"),
            F.col("event_name"),
            F.col("event_ts"),
        ),
    )
    order = Window.partitionBy("dedup_key").orderBy("source_file", "raw")
    return clean.withColumn("is_duplicate", F.row_number().over(order) > 1).select(
        *RECORD_COLUMNS, "arrival_date", "event_date", "dedup_key", "is_duplicate"
    )
