"""`usage_alerts` transform (definitions in docs/marts.md); the shared pieces are in
`jobs/user_engagement/transform.py`.

`no_activity` and `usage_decline` are judged against each user's rhythm, their mean gap g
between active days (`user_rhythm`, from the users state as of dt): a user is inactive after
max(14, 2 g) / max(30, 4 g) days, and a decline is judged only when the previous window held at
least 2 active days and the window spans at least 4 of their gaps (W >= 4 g). A user without a
gap yet (one active day ever) is judged by the fixed thresholds alone."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.engagement import (
    DECLINE_CRITICAL,
    DECLINE_HIGH,
    DECLINE_MIN_GAPS,
    DECLINE_MIN_PREVIOUS_DAYS,
    FEATURE_UNUSED_DAYS,
    INACTIVE_HIGH,
    INACTIVE_HIGH_GAPS,
    INACTIVE_WARNING,
    INACTIVE_WARNING_GAPS,
    KEY_USER_INACTIVE_DAYS,
    Rules,
)
from jobs.usage_alerts.schema import SCHEMA


def usage_alerts(
    horizon: DataFrame, engaged: DataFrame, usage: DataFrame, rhythm: DataFrame, rules: Rules
) -> DataFrame:
    """One row per alert that fires on dt: the `marts/usage_alerts` columns. `rhythm`:
    (dt, user_id, mean_gap_days) (`user_rhythm`); a user without a row has no known gap."""
    users = horizon.join(rhythm.select("dt", "user_id", "mean_gap_days"), ["dt", "user_id"], "left")
    inactive = _no_activity_alerts(users)
    declining = _usage_decline_alerts(users, rules)
    unused = _core_feature_unused_alerts(usage, engaged, rules)
    key_user = _key_user_inactive_alerts(engaged)
    frame = inactive.unionByName(declining).unionByName(unused).unionByName(key_user)
    return frame.select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])


def _alert(
    frame: DataFrame,
    entity: str,
    id_column: str,
    name: str,
    severity: Column,
    observed: Column,
    threshold: Column,
    detail: Column | None = None,
) -> DataFrame:
    """One alert `name` per row of `frame`, about the `entity` whose id is `id_column`."""
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


def _no_activity_alerts(users: DataFrame) -> DataFrame:
    """`no_activity`: users inactive for longer than their rhythm (or the fixed thresholds)."""
    recency = F.col("recency_days")
    gap = F.col("mean_gap_days")
    # greatest() skips a null: without a gap, the fixed thresholds.
    warning_at = F.greatest(F.lit(float(INACTIVE_WARNING)), INACTIVE_WARNING_GAPS * gap)
    high_at = F.greatest(F.lit(float(INACTIVE_HIGH)), INACTIVE_HIGH_GAPS * gap)
    high = recency >= high_at
    raised = F.when(high, high_at > INACTIVE_HIGH).otherwise(warning_at > INACTIVE_WARNING)
    return _alert(
        users.where(recency >= warning_at),
        "user",
        "user_id",
        "no_activity",
        F.when(high, "high").otherwise("warning"),
        recency,
        F.when(high, high_at).otherwise(warning_at),
        F.when(
            raised,
            F.concat(F.lit("mean gap "), F.round(gap, 1).cast("string"), F.lit(" days")),
        ),
    )


def _usage_decline_alerts(users: DataFrame, rules: Rules) -> DataFrame:
    """`usage_decline`: users whose actions fell against the previous window, when judged."""
    gap = F.col("mean_gap_days")
    trend = F.col("total_actions") / F.col("previous_actions")
    judged = (F.col("previous_active_days") >= DECLINE_MIN_PREVIOUS_DAYS) & (
        gap.isNull() | (DECLINE_MIN_GAPS * gap <= rules.window_days)
    )
    return _alert(
        users.where((F.col("previous_actions") > 0) & (trend < DECLINE_HIGH) & judged),
        "user",
        "user_id",
        "usage_decline",
        F.when(trend < DECLINE_CRITICAL, "critical").otherwise("high"),
        F.round(trend, 4),
        F.when(trend < DECLINE_CRITICAL, DECLINE_CRITICAL).otherwise(DECLINE_HIGH),
    )


def _core_feature_unused_alerts(usage: DataFrame, engaged: DataFrame, rules: Rules) -> DataFrame:
    """`core_feature_unused`: a core feature unused for long by a user still active."""
    unused_rows = usage.where(
        F.col("feature").isin(rules.core) & (F.col("days_since_last_use") >= FEATURE_UNUSED_DAYS)
    ).join(engaged.select("dt", "user_id"), ["dt", "user_id"])  # users still active
    return _alert(
        unused_rows,
        "user",
        "user_id",
        "core_feature_unused",
        F.lit("medium"),
        F.col("days_since_last_use"),
        F.lit(FEATURE_UNUSED_DAYS),
        F.col("feature"),
    )


def _key_user_inactive_alerts(engaged: DataFrame) -> DataFrame:
    """`key_user_inactive`: an account whose most active user has been away for long."""
    recency = F.col("recency_days")
    top = Window.partitionBy("dt", "account_id").orderBy(
        F.col("total_actions").desc(), F.col("user_id")
    )
    key_users = (
        engaged.where(F.col("account_id").isNotNull())
        .withColumn("rank", F.row_number().over(top))
        .where((F.col("rank") == 1) & (recency >= KEY_USER_INACTIVE_DAYS))
    )
    return _alert(
        key_users,
        "account",
        "account_id",
        "key_user_inactive",
        F.lit("high"),
        recency,
        F.lit(KEY_USER_INACTIVE_DAYS),
        F.col("user_id"),
    )
