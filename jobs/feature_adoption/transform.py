"""`feature_adoption` transform (definitions in docs/marts.md); the shared pieces are in
`jobs/user_engagement/transform.py`."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from include.pulse.aggregates import exact_avg
from jobs.engagement import (
    Rules,
    ratio,
)
from jobs.feature_adoption.schema import SCHEMA


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
        exact_avg(score).alias("adoption_score"),
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
        F.coalesce(ratio(F.col("adopters"), F.col("active_users")), F.lit(0.0)).alias(
            "adoption_rate"
        ),
        ratio(F.col("total_uses"), F.col("adopters")).alias("uses_per_adopter"),
    )
    return frame.select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])
