"""The `user_engagement` group: the five engagement marts of a snapshot day, from one read of
their inputs (definitions in docs/marts.md):

- `marts/user_engagement`      one row per user active in the analysis window ending D;
- `marts/feature_adoption`     one row per feature;
- `marts/engagement_summary`   one row per day;
- `marts/account_health`       one row per account (events that carry `account_id`);
- `marts/usage_alerts`         one row per alert that fires on D.

Inputs: `user_daily` and `user_feature_daily` over the 90 days up to D, `sessions` dated in
the window [D - W + 1, D] (every session figure: one definition of a session),
`user_feature_first_seen` up to D (each user's first use of each feature, one row a pair),
`users_state` of D (first-seen dates; first, last and active days, for each user's rhythm),
the `users_archive` rows of users seen in the 90 days who left that 64-day state (the
departures of (D - 26, D]: never the whole archive nor `user_daily` history) and
`marts/active_users` of D.

Which days: a change on X alters every snapshot whose 90 days include X, so the run
recomputes its own day and every computed day in [X, X+89] (nightly runs: not before D minus
PULSE_LATENESS_DAYS; older marks wait for a backfill), all in one Spark job per mart: each
activity row is joined to the snapshot days it belongs to. The `sessions` group marks every
session date it republishes (a late event that extends, merges or splits sessions), so the
snapshots counting those sessions are recomputed the same way; the registry runs this group
after it (`sessions` is an upstream table), and a date `sessions` still has marked is put off
(`waits_for_upstream`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from include.pulse.runner import Context, Job, read_partitions, snapshot_planner
from include.pulse.table import Table
from include.pulse.warehouse import Warehouse
from jobs.account_health import TABLE as ACCOUNT_HEALTH
from jobs.account_health.transform import account_health
from jobs.active_users import TABLE as ACTIVE_USERS
from jobs.engagement import HORIZON_DAYS, Rules
from jobs.engagement_summary import TABLE as ENGAGEMENT_SUMMARY
from jobs.engagement_summary.transform import engagement_summary
from jobs.feature_adoption import TABLE as FEATURE_ADOPTION
from jobs.feature_adoption.transform import feature_adoption
from jobs.sessions import TABLE as SESSIONS
from jobs.sessions.schema import SCHEMA as SESSIONS_SCHEMA
from jobs.usage_alerts import TABLE as USAGE_ALERTS
from jobs.usage_alerts.transform import usage_alerts
from jobs.user_daily import TABLE as USER_DAILY
from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.user_engagement import TABLE as USER_ENGAGEMENT
from jobs.user_engagement.schema import SCHEMA as USER_ENGAGEMENT_SCHEMA
from jobs.user_engagement.transform import (
    feature_usage,
    snapshot_days,
    user_engagement,
    user_horizon,
    user_rhythm,
)
from jobs.user_feature_daily import TABLE as USER_FEATURE_DAILY
from jobs.user_feature_daily.schema import SCHEMA as USER_FEATURE_DAILY_SCHEMA
from jobs.user_feature_first_seen import TABLE as USER_FEATURE_FIRST_SEEN
from jobs.user_feature_first_seen.schema import SCHEMA as USER_FEATURE_FIRST_SEEN_SCHEMA
from jobs.users_archive import TABLE as USERS_ARCHIVE
from jobs.users_state import TABLE as USERS_STATE
from jobs.users_state.schema import SCHEMA as STATE_SCHEMA
from jobs.users_state.schema import WINDOW_DAYS as STATE_WINDOW_DAYS
from jobs.users_state.transform import states_as_of


@dataclass(frozen=True)
class Inputs:
    """What the marts read, as frames (the I/O lives in `run`)."""

    daily: DataFrame  # user_daily rows (with event_date) in the horizon of the days
    feature_daily: DataFrame  # user_feature_daily rows in the horizon
    # `sessions` rows (user_id, event_names, session_date) dated in the window of the days:
    # every session figure of the marts (one definition of a session).
    sessions: DataFrame
    first_use: DataFrame  # (user_id, feature, first_use_date) over all history
    first_seen: DataFrame  # (dt, user_id, first_seen_date) from users_state
    # Users-state rows as of each dt (dt, user_id, first_seen_date, last_seen_date,
    # active_days_total, ...): users_state of dt, and the archived row of a user seen in the
    # 90 days who left it. Each user's rhythm (`user_rhythm`) for the alerts.
    states: DataFrame
    active_users: DataFrame  # marts/active_users rows (dt, dau_mau, ...)


def engagement_marts(
    inputs: Inputs, dts: list[date], rules: Rules, cached: list[DataFrame] | None = None
) -> dict[str, DataFrame]:
    """Every engagement mart for the snapshot days `dts`, each with a `dt` column, by table
    name. The intermediate frames every mart reads are cached (and listed in `cached`)."""
    spark = inputs.daily.sparkSession
    days = snapshot_days(dts, spark)
    horizon = user_horizon(inputs.daily, inputs.sessions, days, rules).persist()
    usage = feature_usage(inputs.feature_daily, inputs.sessions, days, rules).persist()
    engaged = user_engagement(horizon, usage, rules).persist()
    # All history of user_feature_daily: feature_adoption reads it three times.
    first_use = inputs.first_use.persist()
    if cached is not None:
        cached.extend((horizon, usage, engaged, first_use))
    return {
        USER_ENGAGEMENT.name: engaged.select(*USER_ENGAGEMENT_SCHEMA.fieldNames()),
        FEATURE_ADOPTION.name: feature_adoption(
            usage, first_use, inputs.first_seen, engaged, days, rules
        ),
        ENGAGEMENT_SUMMARY.name: engagement_summary(
            horizon, engaged, inputs.active_users, days, rules
        ),
        ACCOUNT_HEALTH.name: account_health(horizon, engaged, usage, rules),
        USAGE_ALERTS.name: usage_alerts(horizon, engaged, usage, user_rhythm(inputs.states), rules),
    }


def read_inputs(spark: SparkSession, warehouse: Warehouse, dts: list[date], rules: Rules) -> Inputs:
    first = dts[0] - timedelta(days=HORIZON_DAYS - 1)

    def dated(table: Table, schema: T.StructType, low: date | None) -> DataFrame:
        return read_partitions(spark, warehouse, table, schema, low, dts[-1])

    states = read_partitions(spark, warehouse, USERS_STATE, STATE_SCHEMA, dates=dts)
    # A user seen in the 90 days up to D who is not in the 64-day state of D left it on their
    # last day + 64, in (D - 26, D]: only those archive partitions.
    departed = dts[0] - timedelta(days=HORIZON_DAYS - STATE_WINDOW_DAYS - 1)
    archive = dated(USERS_ARCHIVE, STATE_SCHEMA, departed)
    mart_schema = T.StructType(
        [T.StructField("dau_mau", T.DoubleType()), T.StructField("dt", T.DateType())]
    )
    sessions_schema = T.StructType(
        [SESSIONS_SCHEMA[name] for name in ("user_id", "event_names", "session_date")]
    )
    return Inputs(
        daily=dated(USER_DAILY, USER_DAILY_SCHEMA, first),
        feature_daily=dated(USER_FEATURE_DAILY, USER_FEATURE_DAILY_SCHEMA, first),
        # The windows only (W <= 45 days before the first snapshot), narrow columns.
        sessions=dated(SESSIONS, sessions_schema, dts[0] - timedelta(days=rules.window_days - 1)),
        # One narrow row per user and feature ever used, not a scan of all activity.
        first_use=dated(USER_FEATURE_FIRST_SEEN, USER_FEATURE_FIRST_SEEN_SCHEMA, None),
        first_seen=states.select("dt", "user_id", "first_seen_date"),
        states=states_as_of(states, archive, dts, HORIZON_DAYS),
        active_users=dated(ACTIVE_USERS, mart_schema, dts[0]),
    )


def build(context: Context) -> Mapping[str, DataFrame]:
    dts = list(context.plan.dates)
    rules = Rules.from_config(context.config)
    context.summary["rules"] = {**rules.__dict__, "tiers": dict(rules.tiers)}
    inputs = read_inputs(context.spark, context.warehouse, dts, rules)
    return engagement_marts(inputs, dts, rules, context.cached)


def parameters(context: Context, table: Table) -> dict[str, Any]:
    return {"days": len(context.plan.dates)} if table is ENGAGEMENT_SUMMARY else {}


JOB = Job(
    name=USER_ENGAGEMENT.group,
    # The summary first: it has a row for every computed day, so its partitions are the
    # computed days (a snapshot of the others may be empty, hence absent).
    tables=(ENGAGEMENT_SUMMARY, USER_ENGAGEMENT, FEATURE_ADOPTION, ACCOUNT_HEALTH, USAGE_ALERTS),
    plan=snapshot_planner(HORIZON_DAYS),
    waits_for_upstream=True,
    build=build,
    parameters=parameters,
)
