"""`retention_curve` transform: each period's retention averaged over a snapshot's complete
cohorts, weighted by cohort size."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from include.pulse.frames import conform
from jobs.retention_curve.schema import SCHEMA


def retention_curve(cohorts: DataFrame) -> DataFrame:
    """Per snapshot, grain, breakdown and period: retention over the complete cohorts,
    weighted by cohort size (sum of retained / sum of cohort sizes)."""
    complete = cohorts.where(F.col("is_complete"))
    curve = complete.groupBy("dt", "grain", "dimension", "dimension_value", "period_number").agg(
        F.count(F.lit(1)).alias("cohorts"),
        F.sum("cohort_size").alias("cohort_users"),
        F.sum("retained").alias("retained"),
        F.sum("retained_unbounded").alias("retained_unbounded"),
    )
    return conform(
        curve.withColumn("retention_rate", F.col("retained") / F.col("cohort_users")).withColumn(
            "unbounded_rate", F.col("retained_unbounded") / F.col("cohort_users")
        ),
        SCHEMA,
    )
