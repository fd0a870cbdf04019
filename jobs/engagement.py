"""Engagement marts: per user, per feature, per account, the day's headline KPIs and alerts.

Each mart is a snapshot as of day D, partitioned by `dt=D` (definitions: docs/marts.md):

- `marts/user_engagement`      one row per user active in the analysis window ending D;
- `marts/feature_adoption`     one row per feature;
- `marts/engagement_summary`   one row per day;
- `marts/account_health`       one row per account (events that carry `account_id`);
- `marts/usage_alerts`         one row per alert that fires on D.

Inputs: `user_daily` and `user_feature_daily` over the 90 days up to D (already without the
excluded events), `users_state` of D (first-seen dates) and `marts/active_users` of D.
The window (PULSE_ANALYSIS_WINDOW_DAYS, W) is [D-W+1, D]; the previous window [D-2W+1, D-W].

Which days to recompute: `user_daily.refresh` marks every event date whose activity changed
(`_marks/engagement/`). A change on X alters every snapshot whose 90 days include X, so `run`
recomputes the run's day and every computed day in [X, X+89] (nightly runs: not before D minus
PULSE_LATENESS_DAYS; older marks wait for a backfill), all in one Spark job: each activity row
is joined to the snapshot days it belongs to. The transforms are pure; `run` does I/O.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from include.pulse.config import PulseConfig
from include.pulse.quality import QualityGate
from include.pulse.snapshots import publish_snapshots, stage_and_audit
from include.pulse.spark import get_spark
from include.pulse.warehouse import Warehouse, partition_dirs, partition_values
from jobs import user_daily
from jobs.events import Stopwatch
from jobs.users_state import USERS_STATE_SCHEMA

log = logging.getLogger(__name__)

HORIZON_DAYS = 90  # how far back any engagement figure looks
WEEKS = 8  # usage patterns read the last 8 weeks
INACTIVE_WARNING, INACTIVE_HIGH = 14, 30
DECLINE_HIGH, DECLINE_CRITICAL = 0.75, 0.5  # usage_trend below: a >25% / >50% decline
FEATURE_UNUSED_DAYS = 14
KEY_USER_INACTIVE_DAYS = 7
HEALTH_WEIGHTS = {"recency": 0.30, "frequency": 0.25, "depth": 0.25, "breadth": 0.20}

MARTS = (
    "marts/user_engagement",
    "marts/feature_adoption",
    "marts/engagement_summary",
    "marts/account_health",
    "marts/usage_alerts",
)

_L, _D, _S, _B, _TS = (
    T.LongType(),
    T.DoubleType(),
    T.StringType(),
    T.BooleanType(),
    T.TimestampType(),
)


def _schema(*columns: tuple[str, T.DataType, bool]) -> T.StructType:
    fields = [T.StructField(name, kind, nullable) for name, kind, nullable in columns]
    return T.StructType([*fields, T.StructField("dt", T.DateType(), False)])


USER_ENGAGEMENT_SCHEMA = _schema(
    ("user_id", _S, False),
    ("account_id", _S, True),
    ("total_actions", _L, False),
    ("first_seen", _TS, False),
    ("last_seen", _TS, False),
    ("active_days", _L, False),
    ("span_days", _L, False),
    ("actions_per_day", _D, False),
    ("actions_per_active_day", _D, False),
    ("sessions", _L, False),
    ("actions_per_session", _D, True),
    ("features_used", _L, False),
    ("feature_breadth", _D, False),
    ("is_power_user", _B, False),
    ("recency_days", _L, False),
    ("segment", _S, False),
    ("health_score", _D, False),
    ("usage_trend", _D, True),
)
FEATURE_ADOPTION_SCHEMA = _schema(
    ("feature", _S, False),
    ("tier", _S, True),
    ("adopters", _L, False),
    ("adoption_rate", _D, False),
    ("new_adopters", _L, False),
    ("total_uses", _L, False),
    ("uses_per_adopter", _D, True),
    ("median_days_to_adopt", _D, True),
    ("adoption_score", _D, True),
)
ENGAGEMENT_SUMMARY_SCHEMA = _schema(
    ("total_users", _L, False),
    ("total_events", _L, False),
    ("avg_actions_per_user", _D, True),
    ("median_actions_per_user", _D, True),
    ("power_users", _L, False),
    ("power_user_pct", _D, True),
    ("dormant_pct", _D, True),
    ("sessions_per_user_per_week", _D, True),
    ("actions_per_session", _D, True),
    ("feature_adoption_rate", _D, True),
    ("dau_mau", _D, True),
)
ACCOUNT_HEALTH_SCHEMA = _schema(
    ("account_id", _S, False),
    ("active_users", _L, False),
    ("dau", _L, False),
    ("dau_mau", _D, False),
    ("top_user_share", _D, False),
    ("power_users", _L, False),
    ("mom_change", _D, True),
    ("core_feature_adoption_pct", _D, True),
    ("health_score", _D, False),
    ("usage_pattern", _S, False),
)
USAGE_ALERTS_SCHEMA = _schema(
    ("entity_type", _S, False),
    ("entity_id", _S, False),
    ("alert", _S, False),
    ("severity", _S, False),
    ("observed", _D, False),
    ("threshold", _D, False),
    ("detail", _S, True),
)
SCHEMAS = dict(
    zip(
        MARTS,
        (
            USER_ENGAGEMENT_SCHEMA,
            FEATURE_ADOPTION_SCHEMA,
            ENGAGEMENT_SUMMARY_SCHEMA,
            ACCOUNT_HEALTH_SCHEMA,
            USAGE_ALERTS_SCHEMA,
        ),
        strict=True,
    )
)


@dataclass(frozen=True)
class Rules:
    """The configurable parts of the definitions (from PulseConfig)."""

    window_days: int = 30
    power_rule: str = "absolute"
    power_min_actions: int = 20
    power_percentile: int = 80
    tiers: tuple[tuple[str, str], ...] = ()  # (feature, tier); empty: every event, no tiers

    @classmethod
    def from_config(cls, config: PulseConfig) -> Rules:
        return cls(
            window_days=config.analysis_window_days,
            power_rule=config.power_user_rule,
            power_min_actions=config.power_user_min_actions,
            power_percentile=config.power_user_percentile,
            tiers=tuple(sorted(config.feature_tiers.items())),
        )

    @property
    def core(self) -> list[str]:
        return [feature for feature, tier in self.tiers if tier == "core"]


def _ratio(numerator: Column, denominator: Column) -> Column:
    return F.when(denominator > 0, numerator.cast("double") / denominator)


def _days(dts: list[date], spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([(d,) for d in dts], "dt date")


def _in_horizon(rows: DataFrame, days: DataFrame) -> DataFrame:
    """Each activity row once per snapshot day whose 90 days include it, with its `age`."""
    joined = rows.join(
        F.broadcast(days),
        (F.col("event_date") <= F.col("dt"))
        & (F.col("event_date") > F.date_sub(F.col("dt"), HORIZON_DAYS)),
    )
    return joined.withColumn("age", F.datediff("dt", "event_date"))


def user_horizon(daily: DataFrame, days: DataFrame, rules: Rules) -> DataFrame:
    """(dt, user_id) for every user seen in the 90 days up to dt: window and trend figures."""
    w = rules.window_days
    rows = _in_horizon(daily, days)
    in_window = F.col("age") < w
    in_previous = (F.col("age") >= w) & (F.col("age") < 2 * w)

    def window_sum(column: str, where: Column = in_window) -> Column:
        return F.sum(F.when(where, F.col(column)).otherwise(F.lit(0)))

    weeks = [
        window_sum("event_count", F.col("age").between(7 * (WEEKS - k), 7 * (WEEKS - k) + 6))
        .cast("long")
        .alias(f"week_{k}")
        for k in range(1, WEEKS + 1)
    ]  # week_1 the oldest, week_8 the 7 days up to dt
    latest_account = F.max(
        F.when(F.col("account_id").isNotNull(), F.struct("event_date", "account_id"))
    )["account_id"]
    return rows.groupBy("dt", "user_id").agg(
        window_sum("event_count").cast("long").alias("total_actions"),
        window_sum("event_count", in_previous).cast("long").alias("previous_actions"),
        F.count(F.when(in_window, 1)).alias("active_days"),
        F.count(F.when(F.col("age") < INACTIVE_HIGH, 1)).alias("active_days_30"),
        window_sum("session_count").cast("long").alias("sessions"),
        F.min(F.when(in_window, F.col("first_event_ts"))).alias("first_seen"),
        F.max(F.when(in_window, F.col("last_event_ts"))).alias("last_seen"),
        (F.max(F.when(in_window, F.col("age"))) - F.min(F.when(in_window, F.col("age"))) + 1)
        .cast("long")
        .alias("span_days"),
        F.min("age").cast("long").alias("recency_days"),
        latest_account.alias("account_id"),
        *weeks,
    )


def feature_usage(feature_daily: DataFrame, days: DataFrame, rules: Rules) -> DataFrame:
    """(dt, user_id, feature): uses, days used and sessions in the window, days since last use."""
    rows = _in_horizon(feature_daily, days)
    if rules.tiers:
        rows = rows.where(F.col("feature").isin([feature for feature, _ in rules.tiers]))
    in_window = F.col("age") < rules.window_days
    return rows.groupBy("dt", "user_id", "feature").agg(
        F.sum(F.when(in_window, F.col("uses")).otherwise(0)).cast("long").alias("uses"),
        F.count(F.when(in_window, 1)).alias("days_used"),
        F.sum(F.when(in_window, F.col("sessions")).otherwise(0)).cast("long").alias("sessions"),
        F.min("age").cast("long").alias("days_since_last_use"),
    )


def _features_available(usage: DataFrame, rules: Rules) -> DataFrame:
    """dt -> how many features there are: the configured ones, else those used in the window."""
    used = usage.where(F.col("uses") > 0)
    counted = used.groupBy("dt").agg(F.count_distinct("feature").alias("features_available"))
    if rules.tiers:
        counted = counted.withColumn("features_available", F.lit(len(rules.tiers)).cast("long"))
    return counted


def _percent_rank_score(order: Column, by: str = "dt") -> Column:
    """100 x the share of the day's users at or below this user (ties share the top rank)."""
    return F.cume_dist().over(Window.partitionBy(by).orderBy(order)) * 100


def user_engagement(horizon: DataFrame, usage: DataFrame, rules: Rules) -> DataFrame:
    """One row per user active in the window: the `marts/user_engagement` columns."""
    active = horizon.where(F.col("total_actions") > 0)
    used = (
        usage.where(F.col("uses") > 0)
        .groupBy("dt", "user_id")
        .agg(F.count(F.lit(1)).alias("features_used"))
    )
    available = _features_available(usage, rules)
    frame = (
        active.join(used, ["dt", "user_id"], "left")
        .join(available, ["dt"], "left")
        .fillna(0, ["features_used", "features_available"])
    )
    if rules.power_rule == "percentile":
        cut = frame.groupBy("dt").agg(
            F.percentile("total_actions", rules.power_percentile / 100).alias("power_cut")
        )
        frame = frame.join(cut, ["dt"]).withColumn(
            "is_power_user", F.col("total_actions") >= F.col("power_cut")
        )
    else:
        frame = frame.withColumn(
            "is_power_user", F.col("total_actions") >= F.lit(rules.power_min_actions)
        )
    frame = frame.select(
        "*",
        (F.col("total_actions") / F.col("span_days")).alias("actions_per_day"),
        (F.col("total_actions") / F.col("active_days")).alias("actions_per_active_day"),
        _ratio(F.col("total_actions"), F.col("sessions")).alias("actions_per_session"),
        F.coalesce(_ratio(F.col("features_used"), F.col("features_available")), F.lit(0.0)).alias(
            "feature_breadth"
        ),
        _ratio(F.col("total_actions"), F.col("previous_actions")).alias("usage_trend"),
    )
    health = (
        HEALTH_WEIGHTS["recency"] * _percent_rank_score(F.col("recency_days").desc())
        + HEALTH_WEIGHTS["frequency"] * _percent_rank_score(F.col("active_days"))
        + HEALTH_WEIGHTS["depth"] * _percent_rank_score(F.col("actions_per_active_day"))
        + HEALTH_WEIGHTS["breadth"] * _percent_rank_score(F.col("feature_breadth"))
    )
    segment = (
        F.when(F.col("recency_days") >= INACTIVE_HIGH, "dormant")
        .when((F.col("usage_trend") < DECLINE_HIGH) & (F.col("previous_actions") > 0), "at_risk")
        .when(F.col("is_power_user") & (F.col("active_days_30") >= 20), "champion")
        .when(F.col("is_power_user"), "power")
        .when(F.col("active_days_30") >= 4, "regular")
        .otherwise("casual")
    )
    frame = frame.withColumn("health_score", F.round(health, 1)).withColumn("segment", segment)
    return frame.select(
        *[F.col(f.name).cast(f.dataType) for f in USER_ENGAGEMENT_SCHEMA.fields],
        "previous_actions",  # kept for the account figures; dropped before writing
        *[f"week_{k}" for k in range(1, WEEKS + 1)],
    )


def feature_adoption(
    usage: DataFrame,
    first_use: DataFrame,
    first_seen: DataFrame,
    engaged: DataFrame,
    days: DataFrame,
    rules: Rules,
) -> DataFrame:
    """One row per feature and day: the `marts/feature_adoption` columns.

    `first_use`: (user_id, feature, first_use_date) over all history; `first_seen`: (dt,
    user_id, first_seen_date) from users_state; `engaged`: the user_engagement rows.
    """
    adopters = usage.where(F.col("uses") > 0).join(first_use, ["user_id", "feature"], "left")
    adopters = adopters.join(first_seen, ["dt", "user_id"], "left")
    score = F.least(
        F.lit(100.0),
        20
        * (
            0.4 * F.log1p("uses")
            + 0.4 * F.log1p("days_used")
            + 0.2 * F.log1p(F.col("sessions").cast("double"))
        ),
    )
    per_feature = adopters.groupBy("dt", "feature").agg(
        F.count(F.lit(1)).alias("adopters"),
        F.sum("uses").cast("long").alias("total_uses"),
        F.percentile(F.datediff("first_use_date", "first_seen_date"), 0.5).alias(
            "median_days_to_adopt"
        ),
        F.avg(score).alias("adoption_score"),
    )
    new = (
        first_use.join(days, F.col("first_use_date") == F.col("dt"))
        .groupBy("dt", "feature")
        .agg(F.count(F.lit(1)).alias("new_adopters"))
    )
    active = engaged.groupBy("dt").agg(F.count(F.lit(1)).alias("active_users"))
    if rules.tiers:
        features = days.crossJoin(
            usage.sparkSession.createDataFrame(list(rules.tiers), "feature string, tier string")
        )
    else:
        features = (
            per_feature.select("dt", "feature").union(new.select("dt", "feature")).distinct()
        ).withColumn("tier", F.lit(None).cast("string"))
    frame = (
        features.join(per_feature, ["dt", "feature"], "left")
        .join(new, ["dt", "feature"], "left")
        .join(active, ["dt"], "left")
        .fillna(0, ["adopters", "total_uses", "new_adopters", "active_users"])
    )
    frame = frame.select(
        "*",
        F.coalesce(_ratio(F.col("adopters"), F.col("active_users")), F.lit(0.0)).alias(
            "adoption_rate"
        ),
        _ratio(F.col("total_uses"), F.col("adopters")).alias("uses_per_adopter"),
    )
    return frame.select(*[F.col(f.name).cast(f.dataType) for f in FEATURE_ADOPTION_SCHEMA.fields])


def engagement_summary(
    horizon: DataFrame,
    engaged: DataFrame,
    active_users_mart: DataFrame,
    days: DataFrame,
    rules: Rules,
) -> DataFrame:
    """One row per day: the `marts/engagement_summary` columns."""
    users = engaged.groupBy("dt").agg(
        F.count(F.lit(1)).alias("total_users"),
        F.sum("total_actions").cast("long").alias("total_events"),
        F.avg("total_actions").alias("avg_actions_per_user"),
        F.percentile("total_actions", 0.5).alias("median_actions_per_user"),
        F.count(F.when(F.col("is_power_user"), 1)).alias("power_users"),
        F.sum("sessions").alias("sessions"),
        F.avg("feature_breadth").alias("feature_adoption_rate"),
    )
    seen = horizon.groupBy("dt").agg(
        F.count(F.lit(1)).alias("seen_90"),
        F.count(F.when(F.col("recency_days") >= INACTIVE_HIGH, 1)).alias("dormant_90"),
    )
    frame = (
        days.join(users, ["dt"], "left")
        .join(seen, ["dt"], "left")
        .join(active_users_mart.select("dt", "dau_mau"), ["dt"], "left")
        .fillna(0, ["total_users", "total_events", "power_users", "sessions"])
    )
    weeks = rules.window_days / 7
    frame = frame.select(
        "*",
        (100 * _ratio(F.col("power_users"), F.col("total_users"))).alias("power_user_pct"),
        (100 * _ratio(F.col("dormant_90"), F.col("seen_90"))).alias("dormant_pct"),
        (_ratio(F.col("sessions"), F.col("total_users")) / weeks).alias(
            "sessions_per_user_per_week"
        ),
        _ratio(F.col("total_events"), F.col("sessions")).alias("actions_per_session"),
    )
    return frame.select(*[F.col(f.name).cast(f.dataType) for f in ENGAGEMENT_SUMMARY_SCHEMA.fields])


def account_health(
    horizon: DataFrame, engaged: DataFrame, usage: DataFrame, rules: Rules
) -> DataFrame:
    """One row per account with an active user: the `marts/account_health` columns."""
    accounts = engaged.where(F.col("account_id").isNotNull())
    core = rules.core
    core_users = (
        usage.where((F.col("uses") > 0) & F.col("feature").isin(core))
        .select("dt", "user_id")
        .distinct()
        .withColumn("uses_core", F.lit(True))
    )
    per_account = (
        accounts.join(core_users, ["dt", "user_id"], "left")
        .groupBy("dt", "account_id")
        .agg(
            F.count(F.lit(1)).alias("active_users"),
            F.count(F.when(F.col("recency_days") == 0, 1)).alias("dau"),
            (F.max("total_actions") / F.sum("total_actions")).alias("top_user_share"),
            F.count(F.when(F.col("is_power_user"), 1)).alias("power_users"),
            F.count(F.when(F.col("uses_core"), 1)).alias("core_users"),
            F.avg("health_score").alias("health_score"),
        )
    )
    # Trend and weekly pattern over every user of the account seen in the 90 days.
    eight_weeks = sum((F.col(f"week_{k}") for k in range(1, WEEKS + 1)), F.lit(0))
    everyone = horizon.where(F.col("account_id").isNotNull()).withColumn("weeks_total", eight_weeks)
    trend = everyone.groupBy("dt", "account_id").agg(
        F.sum("total_actions").alias("actions"),
        F.sum("previous_actions").alias("previous"),
        F.count(F.when(F.col("weeks_total") > 0, 1)).alias("users_8w"),
        (F.max("weeks_total") / F.sum("weeks_total")).alias("top_share_8w"),
        *[F.sum(f"week_{k}").alias(f"week_{k}") for k in range(1, WEEKS + 1)],
    )
    frame = per_account.join(trend, ["dt", "account_id"], "left")
    weekly = [F.col(f"week_{k}") for k in range(1, WEEKS + 1)]
    mean_all = sum(weekly, F.lit(0)) / WEEKS
    mean_old = sum(weekly[:4], F.lit(0)) / 4
    mean_new = sum(weekly[4:], F.lit(0)) / 4
    active_weeks = sum((F.when(c > 0, 1).otherwise(0) for c in weekly), F.lit(0))
    median_mean = F.percentile(mean_all, 0.5).over(Window.partitionBy("dt"))
    pattern = (
        F.when(F.col("week_7") + F.col("week_8") == 0, "dormant")
        .when((F.col("users_8w") >= 2) & (F.col("top_share_8w") >= 0.6), "concentrated")
        .when(active_weeks <= 4, "sporadic")
        .when(mean_new >= 1.25 * mean_old, "growing")
        .when(mean_new <= 0.75 * mean_old, "declining")
        .when((F.least(*weekly) >= 0.75 * mean_all) & (mean_all >= median_mean), "steady_high")
        .otherwise("plateau")
    )
    frame = frame.select(
        "*",
        _ratio(F.col("dau"), F.col("active_users")).alias("dau_mau"),
        (_ratio(F.col("actions"), F.col("previous")) - 1).alias("mom_change"),
        (
            100 * _ratio(F.col("core_users"), F.col("active_users"))
            if core
            else F.lit(None).cast("double")
        ).alias("core_feature_adoption_pct"),
        pattern.alias("usage_pattern"),
    )
    return frame.select(*[F.col(f.name).cast(f.dataType) for f in ACCOUNT_HEALTH_SCHEMA.fields])


def usage_alerts(
    horizon: DataFrame, engaged: DataFrame, usage: DataFrame, rules: Rules
) -> DataFrame:
    """One row per alert that fires on dt: the `marts/usage_alerts` columns."""

    def alert(
        frame: DataFrame,
        entity: str,
        id_column: str,
        name: str,
        severity: Column,
        observed: Column,
        threshold: Column,
        detail: Column | None = None,
    ) -> DataFrame:
        return frame.select(
            F.lit(entity).alias("entity_type"),
            F.col(id_column).alias("entity_id"),
            F.lit(name).alias("alert"),
            severity.alias("severity"),
            observed.cast("double").alias("observed"),
            threshold.cast("double").alias("threshold"),
            (detail if detail is not None else F.lit(None)).cast("string").alias("detail"),
            "dt",
        )

    recency = F.col("recency_days")
    inactive = alert(
        horizon.where(recency >= INACTIVE_WARNING),
        "user",
        "user_id",
        "no_activity",
        F.when(recency >= INACTIVE_HIGH, "high").otherwise("warning"),
        recency,
        F.when(recency >= INACTIVE_HIGH, INACTIVE_HIGH).otherwise(INACTIVE_WARNING),
    )
    trend = F.col("total_actions") / F.col("previous_actions")
    declining = alert(
        horizon.where((F.col("previous_actions") > 0) & (trend < DECLINE_HIGH)),
        "user",
        "user_id",
        "usage_decline",
        F.when(trend < DECLINE_CRITICAL, "critical").otherwise("high"),
        F.round(trend, 4),
        F.when(trend < DECLINE_CRITICAL, DECLINE_CRITICAL).otherwise(DECLINE_HIGH),
    )
    unused_rows = usage.where(
        F.col("feature").isin(rules.core) & (F.col("days_since_last_use") >= FEATURE_UNUSED_DAYS)
    ).join(engaged.select("dt", "user_id"), ["dt", "user_id"])  # users still active
    unused = alert(
        unused_rows,
        "user",
        "user_id",
        "core_feature_unused",
        F.lit("medium"),
        F.col("days_since_last_use"),
        F.lit(FEATURE_UNUSED_DAYS),
        F.col("feature"),
    )
    top = Window.partitionBy("dt", "account_id").orderBy(
        F.col("total_actions").desc(), F.col("user_id")
    )
    key_users = (
        engaged.where(F.col("account_id").isNotNull())
        .withColumn("rank", F.row_number().over(top))
        .where((F.col("rank") == 1) & (recency >= KEY_USER_INACTIVE_DAYS))
    )
    key_user = alert(
        key_users,
        "account",
        "account_id",
        "key_user_inactive",
        F.lit("high"),
        recency,
        F.lit(KEY_USER_INACTIVE_DAYS),
        F.col("user_id"),
    )
    frame = inactive.unionByName(declining).unionByName(unused).unionByName(key_user)
    return frame.select(*[F.col(f.name).cast(f.dataType) for f in USAGE_ALERTS_SCHEMA.fields])


@dataclass(frozen=True)
class Inputs:
    """What the marts read, as frames (the I/O lives in `run`)."""

    daily: DataFrame  # user_daily rows (with event_date) in the horizon of the days
    feature_daily: DataFrame  # user_feature_daily rows in the horizon
    first_use: DataFrame  # (user_id, feature, first_use_date) over all history
    first_seen: DataFrame  # (dt, user_id, first_seen_date) from users_state
    active_users: DataFrame  # marts/active_users rows (dt, dau_mau, ...)


def engagement_marts(inputs: Inputs, dts: list[date], rules: Rules) -> dict[str, DataFrame]:
    """Every engagement mart for the snapshot days `dts`, each with a `dt` column."""
    spark = inputs.daily.sparkSession
    days = _days(dts, spark)
    horizon = user_horizon(inputs.daily, days, rules).persist()
    usage = feature_usage(inputs.feature_daily, days, rules).persist()
    engaged = user_engagement(horizon, usage, rules).persist()
    return {
        "marts/user_engagement": engaged.select(*USER_ENGAGEMENT_SCHEMA.fieldNames()),
        "marts/feature_adoption": feature_adoption(
            usage, inputs.first_use, inputs.first_seen, engaged, days, rules
        ),
        "marts/engagement_summary": engagement_summary(
            horizon, engaged, inputs.active_users, days, rules
        ),
        "marts/account_health": account_health(horizon, engaged, usage, rules),
        "marts/usage_alerts": usage_alerts(horizon, engaged, usage, rules),
    }


def plan_days(
    day: date,
    changed: set[date],
    computed: set[date],
    late_cutoff: date | None,
    horizon_days: int | None = HORIZON_DAYS,
) -> tuple[list[date], set[date], set[date]]:
    """(days to recompute, changes consumed, changes left pending).

    A change on X alters the snapshots of [X, X + horizon_days - 1] (None: every snapshot from
    X on): every computed day there is recomputed, and the run's own day always is. A nightly
    run (`late_cutoff`) leaves changes older than the cutoff pending (their marks stay for a
    backfill) and does not go before the cutoff.
    """
    pending = {c for c in changed if late_cutoff is not None and c < late_cutoff}
    consumed = changed - pending
    targets = {day}
    for change in consumed:
        reach = date.max if horizon_days is None else change + timedelta(days=horizon_days - 1)
        targets |= {d for d in computed if change <= d <= reach}
    return sorted(targets), consumed, pending


def run(
    spark: SparkSession,
    config: PulseConfig,
    day: date,
    run_id: str | None = None,
    late_cutoff: date | None = None,
) -> dict[str, Any]:
    """Bring the engagement marts up to date for `day`; the caller ran `active_users.run`."""
    started_at = datetime.now(UTC)
    watch = Stopwatch("engagement")
    warehouse = Warehouse(config.local_warehouse, run_id=run_id)
    rules = Rules.from_config(config)
    quality = QualityGate(
        warehouse.root / "_quality" / "engagement" / f"dt={day}",
        run_id or day.isoformat(),
        pandas_rows=config.quality_pandas_rows,
    )
    with warehouse.lock("marts"):
        marks = warehouse.marks("engagement")
        summary_dirs = partition_dirs(warehouse.table("marts/engagement_summary"), "dt=*")
        computed = {date.fromisoformat(d) for d in partition_values(summary_dirs, "dt")}
        dts, consumed, pending = plan_days(
            day, {date.fromisoformat(d) for d in marks}, computed, late_cutoff
        )
        log.info("engagement: recomputing %d day(s) %s .. %s", len(dts), dts[0], dts[-1])
        staging = warehouse.new_staging("engagement", f"dt={day}")
        try:
            marts = engagement_marts(_read_inputs(spark, warehouse, dts), dts, rules)
            counts = stage_and_audit(
                spark,
                staging,
                marts,
                SCHEMAS,
                quality,
                parameters={"marts/engagement_summary": {"days": len(dts)}},
            )
            watch.lap("compute_and_audit")
            publish_snapshots(warehouse, staging, MARTS, dts)
            warehouse.clear_marks([p for d in consumed for p in marks.get(d.isoformat(), [])])
            watch.lap("publish")
            report = {
                "job": "engagement",
                "day": day.isoformat(),
                "run_id": run_id,
                "started_at": started_at.isoformat(),
                "days_recomputed": [d.isoformat() for d in dts],
                "late_changes_pending": sorted(d.isoformat() for d in pending),
                "rows": counts,
                "rules": {**rules.__dict__, "tiers": dict(rules.tiers)},
                "quality": {
                    "results": str(quality.out_dir),
                    "data_docs": str(quality.write_docs()),
                    "suites": quality.summaries,
                },
                "seconds": watch.seconds,
                "finished_at": datetime.now(UTC).isoformat(),
            }
            warehouse.write_json(warehouse.report_path("engagement", day.isoformat()), report)
        finally:
            warehouse.discard(staging)
    return report


def _read_inputs(spark: SparkSession, warehouse: Warehouse, dts: list[date]) -> Inputs:
    first = dts[0] - timedelta(days=HORIZON_DAYS - 1)

    def dated(table: str, schema: T.StructType, key: str, low: date | None) -> DataFrame:
        folders = [
            str(p)
            for p in partition_dirs(warehouse.table(table), f"{key}=*")
            if (low is None or date.fromisoformat(p.name.split("=", 1)[1]) >= low)
            and date.fromisoformat(p.name.split("=", 1)[1]) <= dts[-1]
        ]
        reader = spark.read.schema(schema).option("basePath", str(warehouse.table(table)))
        return reader.parquet(*folders) if folders else spark.createDataFrame([], schema)

    feature_history = dated(
        "user_feature_daily", user_daily.USER_FEATURE_DAILY_SCHEMA, "event_date", None
    )
    state_schema = T.StructType([*USERS_STATE_SCHEMA.fields, T.StructField("dt", T.DateType())])
    states = dated("users_state", state_schema, "dt", dts[0])
    mart_schema = T.StructType(
        [T.StructField("dau_mau", T.DoubleType()), T.StructField("dt", T.DateType())]
    )
    return Inputs(
        daily=dated("user_daily", user_daily.USER_DAILY_SCHEMA, "event_date", first),
        feature_daily=feature_history.where(F.col("event_date") >= F.lit(first)),
        first_use=feature_history.groupBy("user_id", "feature").agg(
            F.min("event_date").alias("first_use_date")
        ),
        first_seen=states.where(F.col("dt").isin(dts)).select("dt", "user_id", "first_seen_date"),
        active_users=dated("marts/active_users", mart_schema, "dt", dts[0]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", required=True, type=date.fromisoformat, help="the day D")
    parser.add_argument("--run-id", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    config = PulseConfig.from_env()
    spark = get_spark(config.spark_master, app_name=f"pulse-engagement-{args.date}")
    try:
        run(spark, config, args.date, run_id=args.run_id)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
