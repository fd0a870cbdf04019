"""`engagement_summary` transform (definitions in docs/marts.md); the shared pieces are in
`jobs/user_engagement/transform.py`."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from include.pulse.aggregates import exact_avg
from jobs.engagement import (
    INACTIVE_HIGH,
    Rules,
    ratio,
)
from jobs.engagement_summary.schema import SCHEMA


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
        exact_avg(F.col("feature_breadth")).alias("feature_adoption_rate"),
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
        (100 * ratio(F.col("power_users"), F.col("total_users"))).alias("power_user_pct"),
        (100 * ratio(F.col("dormant_90"), F.col("seen_90"))).alias("dormant_pct"),
        (ratio(F.col("sessions"), F.col("total_users")) / weeks).alias(
            "sessions_per_user_per_week"
        ),
        ratio(F.col("total_events"), F.col("sessions")).alias("actions_per_session"),
    )
    return frame.select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])
