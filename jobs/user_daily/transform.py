"""`user_daily` transforms: which events are user activity, and one row per user and active day.
Pure functions on DataFrames; `jobs/user_daily/job.py` does the I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from include.pulse.aggregates import ordered_sum
from jobs.user_daily.schema import SCHEMA


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


def _on_event(pick: Callable[[Column], Column], column: str) -> Column:
    """The value of `column` on the event `pick` (F.min: earliest, F.max: latest) chooses among
    those where it is set (ties: the smaller / larger value)."""
    return pick(F.when(F.col(column).isNotNull(), F.struct("event_ts", column)))[column]


def revenue_value(revenue_property: str) -> Column:
    """The event's `revenue_property` as a finite number, else null (missing, not a number,
    NaN or infinite)."""
    quoted = revenue_property.replace("\\", "\\\\").replace("'", "\\'")
    value = F.get_json_object(F.col("properties"), f"$['{quoted}']").try_cast("double")
    return F.when(~F.isnan(value) & (F.abs(value) != float("inf")), value)


def user_daily(events: DataFrame, revenue_property: str = "revenue") -> DataFrame:
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
        ordered_sum(revenue_value(revenue_property)).alias("revenue"),
    )
    return daily.select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])
