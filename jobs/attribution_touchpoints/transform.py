"""The attribution transforms: events -> touches and conversions -> paths -> credits.

Pure functions on DataFrames (`jobs/attribution_touchpoints/job.py` does the I/O, the fit of the
data-driven models on the driver is `models.py`). Every step is a window or an aggregate
partitioned by user (then by conversion), so the work spreads by user; definitions in
docs/marts.md "Attribution".

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
- `conversion_paths`, `open_paths`, `paths_table`: the converting paths and, as of each
  snapshot day, the non-converting ones; the path table the data-driven models are fitted on.
- `data_driven_credits`, `channels_table`: the fitted weights applied back, and the totals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from include.pulse.aggregates import ordered_sum
from jobs.attribution_touchpoints.models import NONE_CHANNEL, SEPARATOR
from jobs.attribution_touchpoints.schema import MODELS
from jobs.user_daily.transform import Exclusions, activity

if TYPE_CHECKING:
    from include.pulse.config import PulseConfig

RULE_MODELS = MODELS[:6]
FITTED_MODELS = MODELS[6:]  # markov, shapley
DIRECT = "direct"
MICROS_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class Rules:
    """The attribution settings of a run (from PulseConfig)."""

    conversion_events: tuple[str, ...] = ("purchase",)
    revenue_property: str = "revenue"
    lookback_days: int = 30
    half_life_days: int = 7
    window_days: int = 90
    timezone: str = "UTC"
    exclusions: Exclusions = field(default_factory=Exclusions)

    @classmethod
    def from_config(cls, config: PulseConfig) -> Rules:
        return cls(
            conversion_events=config.conversion_events,
            revenue_property=config.revenue_property,
            lookback_days=config.attribution_lookback_days,
            half_life_days=config.attribution_half_life_days,
            window_days=config.attribution_window_days,
            timezone=config.timezone,
            exclusions=Exclusions(config.excluded_events, config.excluded_users),
        )

    @property
    def horizon_days(self) -> int:
        """A change of events on X reaches the snapshots [X, X + horizon - 1] = [X, X + W + L]:
        a touch on X is in the paths of conversions up to X + L + 1 (the lookback is L x 24 h
        and dates are local: one more day), and a conversion on C is in the fitting windows
        of C .. C + W - 1."""
        return self.window_days + self.lookback_days + 1

    def first_event_date(self, first_conversion_day: date) -> date:
        """The earliest events partition the paths of the conversions of
        `first_conversion_day` (and the open paths as of that day) need: its touches are at
        most L x 24 h older, so on local dates from day - L - 1; one more day of margin."""
        return first_conversion_day - timedelta(days=self.lookback_days + 2)

    def window(self, dts: Sequence[date]) -> set[date]:
        """The conversion days the snapshots `dts` sum over: [dt - W + 1, dt] for each."""
        return {dt - timedelta(days=back) for dt in dts for back in range(self.window_days)}

    def fresh_days(self, dts: Sequence[date], stored: Set[date]) -> list[date]:
        """The conversion days a run computes from events: its snapshot days, and the days of
        their windows with no stored snapshot (before the first run, or a snapshot never
        computed). The others' credited touches are read back from their snapshot."""
        return sorted(set(dts) | (self.window(dts) - set(stored)))


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


def _path_text(touch: Column) -> Column:
    """`a > b > c` from an array of structs sorted in path order."""
    return F.array_join(F.transform(touch, lambda t: t["channel"]), SEPARATOR)


def conversion_paths(credited: DataFrame) -> DataFrame:
    """One row per conversion: conversion_date, revenue and `path`."""
    return credited.groupBy("user_id", "conversion_id", "conversion_date", "revenue").agg(
        _path_text(F.array_sort(F.collect_list(F.struct("position", "channel")))).alias("path"),
    )


def daily_paths(per_conversion: DataFrame) -> DataFrame:
    """(conversion_date, path, conversions, conversion_value): each day's converting paths
    summed (the value added in sorted order, so a day's sum is the same wherever computed)."""
    return per_conversion.groupBy("conversion_date", "path").agg(
        F.count(F.lit(1)).cast("long").alias("conversions"),
        ordered_sum(F.col("revenue")).alias("conversion_value"),
    )


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


def stored_daily_paths(rows: DataFrame) -> DataFrame:
    """`attribution_paths_daily` rows read back -> `daily_paths` rows."""
    return rows.select(
        F.col("dt").alias("conversion_date"), "path", "conversions", "conversion_value"
    )


def stored_daily_rule_credits(channel_rows: DataFrame) -> DataFrame:
    """`marts/attribution_channels` rows read back -> `daily_rule_credits` rows (their one-day
    rows of the rule-based models)."""
    return channel_rows.where(
        (F.col("window_days") == 1) & F.col("model").isin(list(RULE_MODELS))
    ).select(F.col("dt").alias("conversion_date"), "model", "channel", "conversions", "revenue")


def paths_daily_table(daily: DataFrame, dts: Sequence[date]) -> DataFrame:
    """`attribution_paths_daily` of the snapshot days."""
    return daily.where(F.col("conversion_date").isin(list(dts))).select(
        "path", "conversions", "conversion_value", F.col("conversion_date").alias("dt")
    )


def _snapshots(dts: Sequence[date], keep) -> Column:
    """The snapshot days among `dts` for which `keep(dt)` holds, as an array to explode: the
    days are literals of the plan (a run has a few, at most a window's), not a joined table."""
    days = F.array(*[F.lit(d) for d in dts])
    return F.filter(days, keep)


def _in_window(conversion_date: Column, rules: Rules):
    return lambda dt: (
        (conversion_date <= dt) & (conversion_date >= F.date_sub(dt, rules.window_days - 1))
    )


def open_paths(journey: DataFrame, dts: Sequence[date], rules: Rules) -> DataFrame:
    """(dt, user_id, path): as of the end of each day dt, each user's touches since their last
    conversion within the lookback [end of dt - L, end of dt); users with none have no row.

    As for a conversion (`path_touches`), the runs are formed from the events of that
    lookback: a touch is an event after the last conversion (no conversion on or before dt
    follows it) that starts a run within the lookback, its previous event in the run being
    none or older; only its time and channel make the path."""
    lookback = F.lit(rules.lookback_days * MICROS_PER_DAY)
    event_date, next_date, previous = F.col("event_date"), F.col("next_date"), F.col("previous_ts")

    def holds(dt: Column) -> Column:
        since = F.unix_micros(_day_end(dt, rules.timezone)) - lookback
        return (
            (event_date <= dt)
            & (event_date >= F.date_sub(dt, rules.lookback_days + 1))
            & (next_date.isNull() | (next_date > dt))
            & (F.unix_micros("event_ts") >= since)
            & (previous.isNull() | (F.unix_micros(previous) < since))
        )

    rows = journey.where(F.col("kind") == 0).select(
        "user_id",
        F.col("event_ts").alias("touch_ts"),
        "touch_seq",
        "channel",
        F.explode(_snapshots(dts, holds)).alias("dt"),
    )
    return rows.groupBy("dt", "user_id").agg(
        _path_text(
            F.array_sort(F.collect_list(F.struct("touch_ts", "touch_seq", "channel")))
        ).alias("path")
    )


def _day_end(dt: Column, timezone: str) -> Column:
    """The first instant after day `dt` in `timezone` (UTC timestamp)."""
    return F.to_utc_timestamp(F.date_add(dt, 1).cast("timestamp"), timezone)


def paths_table(
    daily: DataFrame, opened: DataFrame, dts: Sequence[date], rules: Rules
) -> DataFrame:
    """`marts/attribution_paths`: per dt, the distinct paths of the conversions in
    [dt - W + 1, dt] (from `daily_paths` of those days) and the non-converting paths as of dt,
    with their counts."""
    converting = daily.select(
        F.explode(_snapshots(dts, _in_window(F.col("conversion_date"), rules))).alias("dt"),
        "path",
        "conversions",
        F.col("conversion_value").alias("value"),
        F.lit(0).cast("long").alias("nulls"),
    )
    non_converting = opened.select(
        "dt",
        "path",
        F.lit(0).cast("long").alias("conversions"),
        F.lit(0.0).alias("value"),
        F.lit(1).cast("long").alias("nulls"),
    )
    return (
        converting.unionByName(non_converting)
        .groupBy("dt", "path")
        .agg(
            F.sum("conversions").cast("long").alias("total_conversions"),
            ordered_sum(F.col("value")).alias("total_conversion_value"),
            F.sum("nulls").cast("long").alias("total_null"),
        )
        .select(
            F.lit(rules.window_days).cast("int").alias("window_days"),
            "path",
            "total_conversions",
            "total_conversion_value",
            "total_null",
            "dt",
        )
    )


@dataclass(frozen=True)
class Weights:
    """The fitted weights of each snapshot day: {(dt, channel): weight} per model."""

    markov: Mapping[tuple[date, str], float]
    shapley: Mapping[tuple[date, str], float]

    def lookup(self, model: str, dt: Column, channel: Column) -> Column:
        """The weight of `channel` as fitted on `dt` (0 if it was not in that window): a map
        literal of the plan, so applying the fit joins nothing."""
        weights = getattr(self, model)
        if not weights:
            return F.lit(0.0)
        keys = [f"{d.isoformat()}|{c}" for d, c in weights]
        table = F.map_from_arrays(
            F.array(*[F.lit(k) for k in keys]),
            F.array(*[F.lit(float(v)) for v in weights.values()]),
        )
        key = F.concat_ws("|", F.date_format(dt, "yyyy-MM-dd"), channel)
        return F.coalesce(F.element_at(table, key), F.lit(0.0))


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
    from jobs.attribution_touchpoints.schema import SCHEMA

    return credited.withColumn("dt", F.col("conversion_date")).select(
        *[F.col(f.name).cast(f.dataType) for f in SCHEMA.fields]
    )


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
    in_window = _snapshots(dts, _in_window(F.col("conversion_date"), rules))
    rule_based = rule_credits.select(
        F.explode(in_window).alias("dt"),
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
        .select("channels", "n", "value", F.explode(in_window).alias("dt"))
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
    from jobs.attribution_channels.schema import SCHEMA

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
