"""`attribution_touchpoints`: events -> touches and conversions -> credited touches.

Pure functions on DataFrames (`job.py` runs the group: the I/O, and the fit of the data-driven
models on the driver, `models.py`). Every step is a window or an aggregate partitioned by user
(then by conversion), so the work spreads by user; definitions in docs/marts.md "Attribution".
What the group's tables share (settings, model names, weights) is `jobs/attribution.py`; the
other tables' logic is in their own folders (`attribution_paths`, `attribution_paths_daily`,
`attribution_channels`), which take this module's frames as input.

- `touch_events`: the events with a channel, each with the run of consecutive events of its
  user with the same channel and session that it is part of, and the previous event of that run.
- `conversions`: the conversion events with their id and value.
- `journeys`: touch events and conversions together, each event with the conversion it leads
  to: the user's first conversion at or after it (so an event belongs to at most one
  conversion, and a conversion's path starts after the previous conversion).
- `credited_touches`: one row per (conversion, touch of its path) - or one `(none)` row - with
  the position, the path length and the credit of each rule-based model. A touch is a run of
  the events within the conversion's lookback only (a run that started earlier starts, for
  that conversion, at its first event within the lookback), so a path depends only on the
  events of [conversion time - L, conversion time], whatever the first day read.
- `data_driven_credits`, `touchpoints`: the fitted weights applied back, and the mart's rows.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from include.pulse.aggregates import ordered_sum
from jobs.attribution import FITTED_MODELS, MICROS_PER_DAY, NONE_CHANNEL, Rules, Weights
from jobs.attribution_touchpoints.schema import SCHEMA
from jobs.user_daily.transform import activity

DIRECT = "direct"


def _property(name: str) -> Column:
    quoted = name.replace("\\", "\\\\").replace("'", "\\'")
    return F.get_json_object(F.col("properties"), f"$['{quoted}']")


def relevant_events(events: DataFrame, rules: Rules) -> DataFrame:
    """The events that can be touches or conversions (exclusions applied), the columns used."""
    channel = F.trim(F.col("channel"))
    conversion = F.col("event_name").isin(list(rules.conversion_events))
    return (
        activity(events, rules.exclusions)
        .where((channel.isNotNull() & (channel != "")) | conversion)
        .select(
            "event_id",
            "user_id",
            "event_name",
            "event_ts",
            "session_id",
            F.when(channel != "", channel).alias("channel"),
            "properties",
            "event_date",
        )
    )


def touch_events(events: DataFrame) -> DataFrame:
    """One row per event with a channel: user_id, event_ts, event_date, channel, session_id,
    event_id, campaign, medium (its `utm_campaign` / `utm_medium`), touch_seq (the user's
    running number of the run of consecutive events with the same channel and session it is
    part of) and previous_ts (the time of the run's event before it; null for the first event
    of a run, among the events given).

    Runs are only the material of touches: a conversion's touches are these runs cut to its
    lookback (`path_touches`), a non-converting path's to its own (`open_paths`), so that a
    run that started before the first day read gives the same touches."""
    rows = events.where(F.col("channel").isNotNull()).select(
        "user_id",
        "event_ts",
        "event_date",
        "session_id",
        "channel",
        "event_name",
        "event_id",
        _property("utm_campaign").alias("campaign"),
        _property("utm_medium").alias("medium"),
    )
    # A total order of a user's events, so that equal times collapse the same way every run.
    order = Window.partitionBy("user_id").orderBy(
        "event_ts",
        "channel",
        F.col("session_id").asc_nulls_first(),
        "event_name",
        F.col("event_id").asc_nulls_first(),
    )
    before = F.lag(F.struct("channel", "session_id", "event_ts")).over(order)
    same_run = (
        before.isNotNull()
        & (before["channel"] == F.col("channel"))
        & before["session_id"].eqNullSafe(F.col("session_id"))
    )
    running = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (
        rows.withColumn("previous_ts", F.when(same_run, before["event_ts"]))
        .withColumn("touch_seq", F.sum((~same_run).cast("long")).over(running))
        .drop("event_name")
    )


def conversions(events: DataFrame, rules: Rules) -> DataFrame:
    """One row per conversion: conversion_id (the event_id, else a hash of the de-duplication
    key), user_id, conversion_ts, conversion_date, conversion_event, revenue (0 when the
    property is missing or not a finite number) and revenue_valid."""
    value = _property(rules.revenue_property).try_cast("double")
    valid = value.isNotNull() & ~F.isnan(value) & (F.abs(value) != float("inf"))
    key = F.concat_ws(
        "\u001f",
        F.col("user_id"),
        F.coalesce(F.col("session_id"), F.lit("")),
        F.col("event_name"),
        F.unix_micros("event_ts").cast("string"),
    )
    return events.where(F.col("event_name").isin(list(rules.conversion_events))).select(
        F.coalesce(F.col("event_id"), F.sha2(key, 256)).alias("conversion_id"),
        "user_id",
        F.col("event_ts").alias("conversion_ts"),
        F.col("event_date").alias("conversion_date"),
        F.col("event_name").alias("conversion_event"),
        F.when(valid, value).otherwise(F.lit(0.0)).alias("revenue"),
        valid.alias("revenue_valid"),
    )


def journeys(touch_rows: DataFrame, conversion_rows: DataFrame) -> DataFrame:
    """Touch events (`touch_events`) and conversions of each user in one frame, every row with
    `next_*`: the user's first conversion at or after it (a conversion: itself; conversions
    at one instant: by conversion_id), null for an event no conversion follows. Touch event
    rows have `event_ts`, conversion rows `conversion_ts` (and a null `event_ts`).

    One pass per user backwards in time: the running last conversion seen is the next one.
    """
    rows = touch_rows.withColumn("kind", F.lit(0)).unionByName(
        conversion_rows.withColumn("kind", F.lit(1)), allowMissingColumns=True
    )
    at = F.coalesce(F.col("event_ts"), F.col("conversion_ts"))
    backwards = (
        Window.partitionBy("user_id")
        .orderBy(
            at.desc(),
            F.desc("kind"),
            F.desc_nulls_last("conversion_id"),
            F.desc_nulls_last("touch_seq"),
        )
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    following = F.last(
        F.when(
            F.col("kind") == 1,
            F.struct(
                F.col("conversion_id").alias("id"),
                F.col("conversion_ts").alias("ts"),
                F.col("conversion_date").alias("date"),
            ),
        ),
        ignorenulls=True,
    ).over(backwards)
    return (
        rows.withColumn("next", following)
        .withColumn("next_id", F.col("next.id"))
        .withColumn("next_ts", F.col("next.ts"))
        .withColumn("next_date", F.col("next.date"))
        .drop("next")
    )


def path_touches(journey: DataFrame, rules: Rules) -> DataFrame:
    """Each conversion's row (`kind` 1, from `journeys`) and the touches of its path (`kind` 0):
    user_id, next_id (the conversion), next_ts, next_date, kind, touch_seq, touch_ts, channel,
    campaign, medium, and on the conversion's row conversion_event and revenue.

    The runs are formed from the events of the conversion's lookback [next_ts - L, next_ts]
    only: a run that started before the lookback starts, for this conversion, at its first
    event within it. The events that lead to the conversion are those after the previous one
    (`journeys`); a run is in the path when its first event within the lookback is one of them,
    that is, when one of them starts the run within the lookback (its previous event in the run
    is none, or before the lookback). The others continue a run that starts before the
    previous conversion, so not in this path. Each event leads to one conversion: no event is
    read twice, however the lookbacks of a user's conversions overlap."""
    since = F.unix_micros("next_ts") - F.lit(rules.lookback_days * MICROS_PER_DAY)
    conversion = F.col("kind") == 1
    starts = conversion | F.col("previous_ts").isNull() | (F.unix_micros("previous_ts") < since)

    def first_set(column: str) -> Column:
        return F.min(F.when(F.col(column).isNotNull(), F.struct("event_ts", "event_id", column)))[
            column
        ]

    return (
        journey.where(
            conversion | (F.col("next_id").isNotNull() & (F.unix_micros("event_ts") >= since))
        )
        # One shuffle by conversion serves the grouping into touches and the path's windows.
        .repartition("user_id", "next_id")
        .groupBy("user_id", "next_id", "next_ts", "next_date", "kind", "touch_seq")
        .agg(
            F.bool_or(starts).alias("starts"),
            F.min("event_ts").alias("touch_ts"),
            F.min("channel").alias("channel"),
            first_set("campaign").alias("campaign"),
            first_set("medium").alias("medium"),
            F.max("conversion_event").alias("conversion_event"),
            F.max("revenue").alias("revenue"),
        )
        .where(F.col("starts"))
        .drop("starts")
    )


def credited_touches(journey: DataFrame, rules: Rules) -> DataFrame:
    """One row per (conversion, touch of its path), or one `(none)` row for a conversion
    without touches, with `position`, `path_length` and a credit column per rule-based model."""
    rows = _positioned_touches(path_touches(journey, rules))
    return _rule_credits(_with_decay(rows, rules))


def _positioned_touches(rows: DataFrame) -> DataFrame:
    """The path rows (`path_touches`) as conversion columns, each touch with its `position` in
    the path and the `path_length`; a conversion without touches keeps its own row (position 0)."""
    conversion = Window.partitionBy("user_id", "next_id")

    def of_conversion(column: str) -> Column:
        return F.max(F.when(F.col("kind") == 1, F.col(column))).over(conversion)

    ordered = conversion.orderBy(F.asc_nulls_last("touch_ts"), "touch_seq")
    rows = rows.select(
        F.col("next_id").alias("conversion_id"),
        "user_id",
        F.col("next_ts").alias("conversion_ts"),
        F.col("next_date").alias("conversion_date"),
        of_conversion("conversion_event").alias("conversion_event"),
        of_conversion("revenue").alias("revenue"),
        "touch_ts",
        "touch_seq",
        F.coalesce(F.col("channel"), F.lit(NONE_CHANNEL)).alias("channel"),
        "campaign",
        "medium",
        F.row_number().over(ordered).alias("position"),
        F.count("touch_ts").over(conversion).cast("int").alias("path_length"),
        "kind",
    )
    # A conversion's own row stays only when it has no touch: it is the `(none)` row.
    return rows.where((F.col("kind") == 0) | (F.col("path_length") == 0)).withColumn(
        "position", F.when(F.col("kind") == 1, F.lit(0)).otherwise(F.col("position"))
    )


def _with_decay(rows: DataFrame, rules: Rules) -> DataFrame:
    """`age` (days before the conversion) and `decay` (its time-decay weight) of each touch."""
    group = Window.partitionBy("user_id", "conversion_id")
    # Ages relative to the newest touch: the largest weight is 1, so no sum underflows.
    age_days = (F.unix_micros("conversion_ts") - F.unix_micros("touch_ts")) / MICROS_PER_DAY
    return rows.withColumn("age", age_days).withColumn(
        "decay",
        F.pow(
            F.lit(2.0),
            -(F.col("age") - F.min("age").over(group)) / F.lit(float(rules.half_life_days)),
        ),
    )


def _rule_credits(rows: DataFrame) -> DataFrame:
    """The output columns of `credited_touches`: each touch's credit under each rule."""
    n, position = F.col("path_length"), F.col("position")
    alone = n <= 1  # one touch, or none: every model gives it everything

    def credit(value: Column) -> Column:
        return F.when(alone, F.lit(1.0)).otherwise(value).cast("double")

    def flag(condition: Column) -> Column:
        return F.when(condition, F.lit(1.0)).otherwise(F.lit(0.0))

    group = Window.partitionBy("user_id", "conversion_id")
    last_non_direct = F.max(F.when(F.lower(F.col("channel")) != DIRECT, position)).over(group)
    return rows.select(
        "conversion_id",
        "user_id",
        "conversion_ts",
        "conversion_date",
        "conversion_event",
        "revenue",
        "touch_ts",
        "touch_seq",
        "channel",
        "campaign",
        "medium",
        F.col("position").cast("int").alias("position"),
        "path_length",
        credit(flag(position == 1)).alias("first_touch"),
        credit(flag(position == n)).alias("last_touch"),
        credit(flag(position == F.coalesce(last_non_direct, n))).alias("last_non_direct"),
        credit(F.lit(1.0) / n).alias("linear"),
        credit(
            F.when(n == 2, F.lit(0.5))
            .when((position == 1) | (position == n), F.lit(0.4))
            .otherwise(F.lit(0.2) / (n - 2))
        ).alias("position_based"),
        credit(F.col("decay") / ordered_sum(F.col("decay"), over=group)).alias("time_decay"),
    )


def data_driven_credits(credited: DataFrame, weights: Weights) -> DataFrame:
    """`credited` rows (of the snapshot days) with the `markov` and `shapley` credits, from the
    weights fitted as of each conversion's own day: the conversion's distinct channels split
    it in proportion to their weights (equally if those are all 0), and a channel's part is
    divided among its touches."""
    group = Window.partitionBy("user_id", "conversion_id")
    touches_of_channel = F.count(F.lit(1)).over(
        Window.partitionBy("user_id", "conversion_id", "channel")
    )
    rows = credited.withColumn("k", touches_of_channel)
    for model in FITTED_MODELS:
        per_touch = weights.lookup(model, F.col("conversion_date"), F.col("channel")) / F.col("k")
        total = ordered_sum(per_touch, over=group)
        equal = (F.lit(1.0) / F.col("k")) / ordered_sum(F.lit(1.0) / F.col("k"), over=group)
        rows = rows.withColumn(model, F.when(total > 0, per_touch / total).otherwise(equal))
    return rows.drop("k")


def touchpoints(credited: DataFrame) -> DataFrame:
    """`marts/attribution_touchpoints` from fully credited rows."""
    return credited.withColumn("dt", F.col("conversion_date")).select(
        *[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields]
    )
