"""`usage_alerts` transform (definitions in docs/marts.md); the shared pieces are in
`jobs/user_engagement/transform.py`."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.usage_alerts.schema import SCHEMA
from jobs.user_engagement.transform import (
    DECLINE_CRITICAL,
    DECLINE_HIGH,
    FEATURE_UNUSED_DAYS,
    INACTIVE_HIGH,
    INACTIVE_WARNING,
    KEY_USER_INACTIVE_DAYS,
    Rules,
)


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
    return frame.select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])
