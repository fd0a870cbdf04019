"""`landed_events` columns: the events columns plus the de-duplication key, partitioned by
(event_date, arrival_date)."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.events.schema import SCHEMA as EVENTS_SCHEMA

SCHEMA = T.StructType(
    [
        *EVENTS_SCHEMA.fields[:-2],
        T.StructField("dedup_key", T.StringType()),
        T.StructField("event_date", T.DateType()),
        T.StructField("arrival_date", T.DateType()),
    ]
)
