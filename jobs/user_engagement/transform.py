"""`user_engagement` transform, and the frames every engagement mart is computed from: each user's
90 days before a snapshot (`user_horizon`), each user's feature use (`feature_usage`) and each
user's rhythm (`user_rhythm`: the mean gap between their active days, from the users state).

Each mart is a snapshot as of day D (`dt=D`). Inputs: `user_daily` and `user_feature_daily`
over the 90 days up to D (already without the excluded events), the `sessions` rows dated in
the window, and the users-state rows as of D. The window (PULSE_ANALYSIS_WINDOW_DAYS, W) is
[D-W+1, D]; the previous window [D-2W+1, D-W]. Pure functions on DataFrames;
`jobs/user_engagement/job.py` does the I/O.

Sessions have one definition, the `sessions` table's (docs/marts.md "Sessions and paths"):
a user's sessions in the window are their `sessions` rows whose `session_date` is in it (each
session counted once, on the day it started, even when it runs past midnight), and a
feature's sessions those among them whose `event_names` hold the feature.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.engagement import (
    DECLINE_HIGH,
    HEALTH_WEIGHTS,
    HORIZON_DAYS,
    INACTIVE_HIGH,
    WEEKS,
    Rules,
    ratio,
)
from jobs.user_engagement.schema import SCHEMA


def snapshot_days(dts: list[date], spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([(d,) for d in dts], "dt date")


def _sessions_in_window(sessions: DataFrame, days: DataFrame, rules: Rules) -> DataFrame:
    """Each `sessions` row once per snapshot day whose window holds its `session_date`."""
    return sessions.join(
        F.broadcast(days),
        (F.col("session_date") <= F.col("dt"))
        & (F.col("session_date") > F.date_sub(F.col("dt"), rules.window_days)),
    )


def user_sessions(sessions: DataFrame, days: DataFrame, rules: Rules) -> DataFrame:
    """`sessions` rows (user_id, session_date) -> (dt, user_id, sessions): the user's
    sessions that started in the window."""
    rows = _sessions_in_window(sessions, days, rules)
    return rows.groupBy("dt", "user_id").agg(F.count(F.lit(1)).alias("sessions"))


def feature_sessions(sessions: DataFrame, days: DataFrame, rules: Rules) -> DataFrame:
    """`sessions` rows (user_id, event_names, session_date) -> (dt, user_id, feature,
    sessions): the user's sessions that started in the window and used the feature
    (`event_names` is distinct: one row per session and feature)."""
    rows = _sessions_in_window(sessions, days, rules).select(
        "dt", "user_id", F.explode("event_names").alias("feature")
    )
    return rows.groupBy("dt", "user_id", "feature").agg(F.count(F.lit(1)).alias("sessions"))


def _in_horizon(rows: DataFrame, days: DataFrame) -> DataFrame:
    """Each activity row once per snapshot day whose 90 days include it, with its `age`."""
    joined = rows.join(
        F.broadcast(days),
        (F.col("event_date") <= F.col("dt"))
        & (F.col("event_date") > F.date_sub(F.col("dt"), HORIZON_DAYS)),
    )
    return joined.withColumn("age", F.datediff("dt", "event_date"))


def user_horizon(daily: DataFrame, sessions: DataFrame, days: DataFrame, rules: Rules) -> DataFrame:
    """(dt, user_id) for every user seen in the 90 days up to dt: window and trend figures;
    `sessions` from the `sessions` rows (`user_sessions`), 0 without any."""
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
    figures = rows.groupBy("dt", "user_id").agg(
        window_sum("event_count").cast("long").alias("total_actions"),
        window_sum("event_count", in_previous).cast("long").alias("previous_actions"),
        F.count(F.when(in_window, 1)).alias("active_days"),
        F.count(F.when(in_previous, 1)).alias("previous_active_days"),
        F.count(F.when(F.col("age") < INACTIVE_HIGH, 1)).alias("active_days_30"),
        F.min(F.when(in_window, F.col("first_event_ts"))).alias("first_seen"),
        F.max(F.when(in_window, F.col("last_event_ts"))).alias("last_seen"),
        (F.max(F.when(in_window, F.col("age"))) - F.min(F.when(in_window, F.col("age"))) + 1)
        .cast("long")
        .alias("span_days"),
        F.min("age").cast("long").alias("recency_days"),
        latest_account.alias("account_id"),
        *weeks,
    )
    counted = user_sessions(sessions, days, rules)
    return figures.join(counted, ["dt", "user_id"], "left").fillna(0, ["sessions"])


def user_rhythm(states: DataFrame) -> DataFrame:
    """Users-state rows as of each snapshot (`dt`, `user_id`, `first_seen_date`,
    `last_seen_date`, `active_days_total`) -> (dt, user_id, mean_gap_days): the mean gap between
    the user's active days since first seen, (last - first) / (active days - 1), null with one
    active day (no gap yet). The churn features' `mean_gap_days`, the same expression."""
    repeats = F.col("active_days_total").cast("long") - 1
    span = F.datediff(F.col("last_seen_date"), F.col("first_seen_date")).cast("long")
    gap = F.when(repeats > 0, span.cast("double") / repeats.cast("double"))
    return states.select("dt", "user_id", gap.alias("mean_gap_days"))


def feature_usage(
    feature_daily: DataFrame, sessions: DataFrame, days: DataFrame, rules: Rules
) -> DataFrame:
    """(dt, user_id, feature): uses, days used and sessions in the window (`sessions` rows
    that used it: `feature_sessions`), days since last use."""
    rows = _in_horizon(feature_daily, days)
    if rules.tiers:
        rows = rows.where(F.col("feature").isin([feature for feature, _ in rules.tiers]))
    in_window = F.col("age") < rules.window_days
    usage = rows.groupBy("dt", "user_id", "feature").agg(
        F.sum(F.when(in_window, F.col("uses")).otherwise(0)).cast("long").alias("uses"),
        F.count(F.when(in_window, 1)).alias("days_used"),
        F.min("age").cast("long").alias("days_since_last_use"),
    )
    counted = feature_sessions(sessions, days, rules)
    return usage.join(counted, ["dt", "user_id", "feature"], "left").fillna(0, ["sessions"])


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
        ratio(F.col("total_actions"), F.col("sessions")).alias("actions_per_session"),
        F.coalesce(ratio(F.col("features_used"), F.col("features_available")), F.lit(0.0)).alias(
            "feature_breadth"
        ),
        ratio(F.col("total_actions"), F.col("previous_actions")).alias("usage_trend"),
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
        *[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields],
        "previous_actions",  # kept for the account figures; dropped before writing
        *[f"week_{k}" for k in range(1, WEEKS + 1)],
    )
