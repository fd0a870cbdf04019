"""`funnel_times` transform: pure functions on DataFrames (`jobs/funnels/job.py` does the I/O).

Input: the per-user chains of `jobs/funnels/transform.py` (`user_steps` rows: funnel, dt,
user_id, the breakdown columns, step, `micros` from step 1 to the step), which `funnel_marts`
computes once for both tables of the group. Output: `marts/funnel_times`, per entry day dt,
funnel, step from 2 and bin of `bin_seconds` (jobs/funnel_times/README.md; docs/marts.md
"Funnels").
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.funnel_definitions import MICROS, Funnels
from jobs.funnel_times.schema import SCHEMA as FUNNEL_TIMES_SCHEMA


def funnel_times_table(reached: DataFrame, funnels: Funnels, complete: DataFrame) -> DataFrame:
    """`marts/funnel_times` rows from `user_steps` rows: for each (funnel, dt) with entrants
    and each step from 2, every bin of `bin_seconds` from 0 to the window's (zeros kept), the
    users whose chain reached the step that many seconds after step 1."""
    spark = reached.sparkSession
    bins = spark.createDataFrame(
        [
            (f.name, n, step.label, b, b * f.bin_seconds, (b + 1) * f.bin_seconds)
            for f in funnels.funnels
            for n, step in enumerate(f.steps, start=1)
            if n >= 2
            for b in range(f.window_seconds // f.bin_seconds + 1)
        ],
        "funnel string, step int, step_event string, bin int, seconds_from long, seconds_to long",
    )
    width = F.lit(None).cast("long")
    for f in funnels.funnels:
        width = F.when(F.col("funnel") == f.name, F.lit(f.bin_seconds * MICROS)).otherwise(width)
    entered = reached.where(F.col("step") == 1).select("funnel", "dt").distinct()
    counted = (
        reached.where(F.col("step") >= 2)
        .select("funnel", "dt", "step", F.floor(F.col("micros") / width).cast("int").alias("bin"))
        .groupBy("funnel", "dt", "step", "bin")
        .agg(F.count(F.lit(1)).alias("users"))
    )
    out = (
        entered.join(bins, "funnel")
        .join(counted, ["funnel", "dt", "step", "bin"], "left")
        .withColumn("users", F.coalesce("users", F.lit(0)))
        .join(complete, ["funnel", "dt"])
    )
    return out.select(*[F.col(f.name).cast(f.dataType) for f in FUNNEL_TIMES_SCHEMA.fields])
