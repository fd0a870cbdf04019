"""`account_health` transform (definitions in docs/marts.md); the shared pieces are in
`jobs/user_engagement/transform.py`."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from include.pulse.aggregates import exact_avg
from jobs.account_health.schema import SCHEMA
from jobs.engagement import (
    WEEKS,
    Rules,
    ratio,
)


def account_health(
    horizon: DataFrame, engaged: DataFrame, usage: DataFrame, rules: Rules
) -> DataFrame:
    """One row per account with an active user: the `marts/account_health` columns."""
    core = rules.core
    per_account = _active_user_stats(engaged, usage, core)
    frame = per_account.join(_eight_week_trend(horizon), ["dt", "account_id"], "left")
    frame = frame.select(
        "*",
        ratio(F.col("dau"), F.col("active_users")).alias("dau_mau"),
        (ratio(F.col("actions"), F.col("previous")) - 1).alias("mom_change"),
        (
            100 * ratio(F.col("core_users"), F.col("active_users"))
            if core
            else F.lit(None).cast("double")
        ).alias("core_feature_adoption_pct"),
        _usage_pattern().alias("usage_pattern"),
    )
    return frame.select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])


def _active_user_stats(engaged: DataFrame, usage: DataFrame, core: list[str]) -> DataFrame:
    """Per (dt, account_id), over the account's active users: counts, the top user's share of
    actions, power and core-feature users, the mean health score."""
    accounts = engaged.where(F.col("account_id").isNotNull())
    core_users = (
        usage.where((F.col("uses") > 0) & F.col("feature").isin(core))
        .select("dt", "user_id")
        .distinct()
        .withColumn("uses_core", F.lit(True))
    )
    return (
        accounts.join(core_users, ["dt", "user_id"], "left")
        .groupBy("dt", "account_id")
        .agg(
            F.count(F.lit(1)).alias("active_users"),
            F.count(F.when(F.col("recency_days") == 0, 1)).alias("dau"),
            (F.max("total_actions") / F.sum("total_actions")).alias("top_user_share"),
            F.count(F.when(F.col("is_power_user"), 1)).alias("power_users"),
            F.count(F.when(F.col("uses_core"), 1)).alias("core_users"),
            exact_avg(F.col("health_score")).alias("health_score"),
        )
    )


def _eight_week_trend(horizon: DataFrame) -> DataFrame:
    """Per (dt, account_id): actions now and before, users and the top user's share over the
    eight weeks, and the account's actions of each week."""
    # Trend and weekly pattern over every user of the account seen in the 90 days.
    eight_weeks = sum((F.col(f"week_{k}") for k in range(1, WEEKS + 1)), F.lit(0))
    everyone = horizon.where(F.col("account_id").isNotNull()).withColumn("weeks_total", eight_weeks)
    return everyone.groupBy("dt", "account_id").agg(
        F.sum("total_actions").alias("actions"),
        F.sum("previous_actions").alias("previous"),
        F.count(F.when(F.col("weeks_total") > 0, 1)).alias("users_8w"),
        (F.max("weeks_total") / F.sum("weeks_total")).alias("top_share_8w"),
        *[F.sum(f"week_{k}").alias(f"week_{k}") for k in range(1, WEEKS + 1)],
    )


def _usage_pattern() -> Column:
    """An account's `usage_pattern`, from its weekly actions (the first that applies)."""
    weekly = [F.col(f"week_{k}") for k in range(1, WEEKS + 1)]
    mean_all = sum(weekly, F.lit(0)) / WEEKS
    mean_old = sum(weekly[:4], F.lit(0)) / 4
    mean_new = sum(weekly[4:], F.lit(0)) / 4
    active_weeks = sum((F.when(c > 0, 1).otherwise(0) for c in weekly), F.lit(0))
    median_mean = F.percentile(mean_all, 0.5).over(Window.partitionBy("dt"))
    return (
        F.when(F.col("week_7") + F.col("week_8") == 0, "dormant")
        .when((F.col("users_8w") >= 2) & (F.col("top_share_8w") >= 0.6), "concentrated")
        .when(active_weeks <= 4, "sporadic")
        .when(mean_new >= 1.25 * mean_old, "growing")
        .when(mean_new <= 0.75 * mean_old, "declining")
        .when((F.least(*weekly) >= 0.75 * mean_all) & (mean_all >= median_mean), "steady_high")
        .otherwise("plateau")
    )
