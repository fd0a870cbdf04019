"""The `retention_cohorts` group: `marts/retention_cohorts` and `marts/retention_curve`,
snapshots as of D (definitions: docs/marts.md "Retention").

Inputs: `user_first_seen` (a user's cohort is their first day over all history, or with a start
event the first day of it: `user_feature_first_seen`), and the activity since the oldest period
the matrices cover (`user_daily`, or `user_feature_daily` for a return event): a night reads a
bounded window, whatever the length of history. Which
snapshots: a change on X alters every snapshot from X on, so the run recomputes its own day and
every computed snapshot after the earliest change, in one Spark job. A nightly run leaves
changes older than D - PULSE_LATENESS_DAYS pending for a backfill, like the other marts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from include.pulse.runner import Context, Job, read_partitions, snapshot_planner
from include.pulse.table import Table
from include.pulse.warehouse import Warehouse
from jobs.retention_cohorts import TABLE as RETENTION_COHORTS
from jobs.retention_cohorts.transform import (
    Rules,
    cohort_users,
    first_period_start,
    retention_cohorts,
)
from jobs.retention_curve import TABLE as RETENTION_CURVE
from jobs.retention_curve.transform import retention_curve
from jobs.user_daily import TABLE as USER_DAILY
from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.user_feature_daily import TABLE as USER_FEATURE_DAILY
from jobs.user_feature_daily.schema import SCHEMA as USER_FEATURE_DAILY_SCHEMA
from jobs.user_feature_first_seen import TABLE as USER_FEATURE_FIRST_SEEN
from jobs.user_feature_first_seen.schema import SCHEMA as USER_FEATURE_FIRST_SEEN_SCHEMA
from jobs.user_first_seen import TABLE as USER_FIRST_SEEN
from jobs.user_first_seen.schema import SCHEMA as USER_FIRST_SEEN_SCHEMA


@dataclass(frozen=True)
class Inputs:
    first_seen: DataFrame  # user_first_seen: the users whose cohort may be in the matrices
    daily: DataFrame  # user_daily from the first period the matrices cover
    feature_first_seen: DataFrame | None  # user_feature_first_seen, with a start event
    feature_daily: DataFrame | None  # user_feature_daily from that period, with a return event


def earliest_period(dts: list[date], rules: Rules) -> date:
    """The first day any matrix of the snapshots `dts` looks at: its oldest cohort's start."""
    return min(first_period_start(dts[0], shape) for shape in rules.shapes)


def retention_marts(inputs: Inputs, dts: list[date], rules: Rules) -> dict[str, DataFrame]:
    """Both marts for the snapshots `dts`, from the first-seen and the activity tables."""
    earliest = earliest_period(dts, rules)
    start_days = None
    if rules.start_event:
        assert inputs.feature_first_seen is not None
        start_days = inputs.feature_first_seen.where(F.col("feature") == rules.start_event).select(
            "user_id", F.col("first_use_date").alias("event_date")
        )
    users = cohort_users(inputs.first_seen, start_days).where(
        F.col("cohort_day") >= F.lit(earliest)
    )
    if rules.return_event:
        assert inputs.feature_daily is not None
        active = inputs.feature_daily.where(F.col("feature") == rules.return_event)
    else:
        active = inputs.daily
    active = active.select("user_id", "event_date").where(F.col("event_date") >= F.lit(earliest))
    cohorts = retention_cohorts(users, active, dts, rules).persist()
    return {RETENTION_COHORTS.name: cohorts, RETENTION_CURVE.name: retention_curve(cohorts)}


def read_inputs(spark: SparkSession, warehouse: Warehouse, dts: list[date], rules: Rules) -> Inputs:
    """What the matrices need, never all of history: activity from the oldest period they
    cover, and the users first seen since then (every user's first day, one narrow row each,
    when cohorts start with a start event, which may come long after the first day)."""
    earliest = earliest_period(dts, rules)

    def window(table: Table, schema: T.StructType, low: date | None) -> DataFrame:
        return read_partitions(spark, warehouse, table, schema, low, dts[-1])

    return Inputs(
        first_seen=window(
            USER_FIRST_SEEN, USER_FIRST_SEEN_SCHEMA, None if rules.start_event else earliest
        ),
        daily=window(USER_DAILY, USER_DAILY_SCHEMA, earliest),
        feature_first_seen=(
            window(USER_FEATURE_FIRST_SEEN, USER_FEATURE_FIRST_SEEN_SCHEMA, earliest)
            if rules.start_event
            else None
        ),
        feature_daily=(
            window(USER_FEATURE_DAILY, USER_FEATURE_DAILY_SCHEMA, earliest)
            if rules.return_event
            else None
        ),
    )


def build(context: Context) -> Mapping[str, DataFrame]:
    dts = list(context.plan.dates)
    rules = Rules.from_config(context.config)
    context.summary["rules"] = {
        "shapes": [s.__dict__ for s in rules.shapes],
        "start_event": rules.start_event,
        "return_event": rules.return_event,
    }
    marts = retention_marts(read_inputs(context.spark, context.warehouse, dts, rules), dts, rules)
    context.cached.append(marts[RETENTION_COHORTS.name])
    return marts


JOB = Job(
    name=RETENTION_COHORTS.group,
    tables=(RETENTION_COHORTS, RETENTION_CURVE),
    plan=snapshot_planner(None),
    build=build,
)
