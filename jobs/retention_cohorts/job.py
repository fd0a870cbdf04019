"""The `retention_cohorts` group: `marts/retention_cohorts` and `marts/retention_curve`,
snapshots as of D (definitions: docs/marts.md "Retention").

Input: `user_daily` (every partition up to D: a user's cohort is their first day over all
history) and, when a start or return event is configured, `user_feature_daily`. Which
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


@dataclass(frozen=True)
class Inputs:
    daily: DataFrame  # user_daily, all history up to the last snapshot
    feature_daily: DataFrame | None  # user_feature_daily, when start/return events are set


def retention_marts(inputs: Inputs, dts: list[date], rules: Rules) -> dict[str, DataFrame]:
    """Both marts for the snapshots `dts`, from the compact activity tables."""

    def days_of(event: str) -> DataFrame:
        assert inputs.feature_daily is not None
        return (
            inputs.feature_daily.where(F.col("feature") == event)
            .select("user_id", "event_date")
            .distinct()
        )

    earliest = min(first_period_start(dts[0], shape) for shape in rules.shapes)
    users = cohort_users(
        inputs.daily, days_of(rules.start_event) if rules.start_event else None
    ).where(F.col("cohort_day") >= F.lit(earliest))
    active = days_of(rules.return_event) if rules.return_event else inputs.daily
    active = active.select("user_id", "event_date").where(F.col("event_date") >= F.lit(earliest))
    cohorts = retention_cohorts(users, active, dts, rules).persist()
    return {RETENTION_COHORTS.name: cohorts, RETENTION_CURVE.name: retention_curve(cohorts)}


def read_inputs(spark: SparkSession, warehouse: Warehouse, dts: list[date], rules: Rules) -> Inputs:
    def history(table: Table, schema: T.StructType) -> DataFrame:
        return read_partitions(spark, warehouse, table, schema, last=dts[-1])

    needs_features = rules.start_event is not None or rules.return_event is not None
    return Inputs(
        daily=history(USER_DAILY, USER_DAILY_SCHEMA),
        feature_daily=(
            history(USER_FEATURE_DAILY, USER_FEATURE_DAILY_SCHEMA) if needs_features else None
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
