"""`attribution_channels`: conversions and revenue credited to each channel by each model, over
one day and over the fitting window. Pure functions on DataFrames; definitions in docs/marts.md
"Attribution".

- `daily_rule_credits`: each day's rule-based credits per channel (the credited touches of
  `jobs/attribution_touchpoints/transform.py`); `stored_daily_rule_credits`: the table's
  one-day rows read back as such.
- `channels_table`: the one-day rows of every model, and the window's: the rule-based credits
  summed over its days, the fitted models' weights applied to its conversions' channel sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from include.pulse.aggregates import ordered_sum
from jobs.attribution import (
    FITTED_MODELS,
    MODELS,
    RULE_MODELS,
    SEPARATOR,
    Rules,
    Weights,
    in_window,
    snapshots,
)
from jobs.attribution_channels.schema import SCHEMA


def daily_rule_credits(credited: DataFrame) -> DataFrame:
    """(conversion_date, model, channel, conversions, revenue): each day's rule-based credits
    per channel; the same figures as the day's `window_days = 1` rows of
    `marts/attribution_channels`."""
    daily = credited.groupBy("conversion_date", "channel").agg(
        *[ordered_sum(F.col(m)).alias(m) for m in RULE_MODELS],
        *[ordered_sum(F.col(m) * F.col("revenue")).alias(f"value_{m}") for m in RULE_MODELS],
    )
    pairs = F.array(
        *[
            F.struct(
                F.lit(m).alias("model"),
                F.col(m).alias("conversions"),
                F.col(f"value_{m}").alias("revenue"),
            )
            for m in RULE_MODELS
        ]
    )
    return daily.select("conversion_date", "channel", F.explode(pairs).alias("x")).select(
        "conversion_date", "x.model", "channel", "x.conversions", "x.revenue"
    )


def stored_daily_rule_credits(channel_rows: DataFrame) -> DataFrame:
    """`marts/attribution_channels` rows read back -> `daily_rule_credits` rows (their one-day
    rows of the rule-based models)."""
    return channel_rows.where(
        (F.col("window_days") == 1) & F.col("model").isin(list(RULE_MODELS))
    ).select(F.col("dt").alias("conversion_date"), "model", "channel", "conversions", "revenue")


def _long(frame: DataFrame, window_days: int, models: Sequence[str], times: Column) -> DataFrame:
    """(dt, channel, <model>..., revenue) -> (dt, window_days, model, channel, conversions,
    revenue): each model's credit x `times` conversions, x revenue."""
    pairs = F.array(
        *[
            F.struct(
                F.lit(m).alias("model"),
                (F.col(m) * times).alias("conversions"),
                (F.col(m) * F.col("revenue")).alias("revenue"),
            )
            for m in models
        ]
    )
    return frame.select(
        "dt", F.lit(window_days).alias("window_days"), "channel", F.explode(pairs).alias("x")
    ).select("dt", "window_days", "x.model", "channel", "x.conversions", "x.revenue")


def channels_table(
    day_rows: DataFrame,
    rule_credits: DataFrame,
    paths: DataFrame,
    weights: Weights,
    dts: Sequence[date],
    rules: Rules,
) -> DataFrame:
    """`marts/attribution_channels`.

    `day_rows`: the snapshot days' touchpoint rows, every model credited (window_days = 1).
    Window W: the rule-based credits of every conversion in [dt - W + 1, dt] (`rule_credits`:
    `daily_rule_credits` of those days, so a day's totals are copied to W windows at most),
    and the fitted models' weights of dt applied to those conversions' channel sets (from
    `paths`: `daily_paths` of those days; a conversion with the distinct channels S gives k
    the share w_k / sum over S: the split among k's touches does not change k's total)."""
    window = rules.window_days
    one_day = _long(day_rows.withColumn("dt", F.col("conversion_date")), 1, MODELS, F.lit(1.0))
    of_window = snapshots(dts, in_window(F.col("conversion_date"), rules))
    rule_based = rule_credits.select(
        F.explode(of_window).alias("dt"),
        F.lit(window).alias("window_days"),
        "model",
        "channel",
        "conversions",
        "revenue",
    )
    channels = F.array_sort(F.array_distinct(F.split(F.col("path"), SEPARATOR, -1)))
    sets = (
        paths.withColumn("channels", channels)
        .groupBy("conversion_date", "channels")
        .agg(
            F.sum("conversions").alias("n"),
            ordered_sum(F.col("conversion_value")).alias("value"),
        )
        .select("channels", "n", "value", F.explode(of_window).alias("dt"))
    )
    fitted = [_fitted_window(sets, weights, model, window) for model in FITTED_MODELS]
    long_window = rule_based.unionByName(fitted[0]).unionByName(fitted[1])
    rows = long_window if window == 1 else one_day.unionByName(long_window)
    totals = rows.groupBy("dt", "window_days", "model", "channel").agg(
        ordered_sum(F.col("conversions")).alias("conversions"),
        ordered_sum(F.col("revenue")).alias("revenue"),
    )
    share = F.col("conversions") / ordered_sum(
        F.col("conversions"), over=Window.partitionBy("dt", "window_days", "model")
    )
    effect = F.when(
        F.col("model") == "markov", weights.lookup("markov", F.col("dt"), F.col("channel"))
    )
    return (
        totals.withColumn("share", share)
        .withColumn("removal_effect", effect)
        .select(*[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields])
    )


def _fitted_window(sets: DataFrame, weights: Weights, model: str, window: int) -> DataFrame:
    """(dt, channels, n, value) -> the long-window rows of a fitted model: each set's n
    conversions and value split among its channels by their weights of dt."""

    def weight(channel: Column) -> Column:
        return weights.lookup(model, F.col("dt"), channel)

    total = F.aggregate(F.transform("channels", weight), F.lit(0.0), lambda acc, w: acc + w)
    fraction = F.when(F.col("total") > 0, weight(F.col("channel")) / F.col("total")).otherwise(
        F.lit(1.0) / F.size("channels")
    )
    return (
        sets.withColumn("total", total)
        .select("dt", "n", "value", "total", "channels", F.explode("channels").alias("channel"))
        .select(
            "dt",
            F.lit(window).alias("window_days"),
            F.lit(model).alias("model"),
            "channel",
            (F.col("n") * fraction).alias("conversions"),
            (F.col("value") * fraction).alias("revenue"),
        )
    )
