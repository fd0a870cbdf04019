"""The `attribution_touchpoints` group: `marts/attribution_touchpoints`,
`marts/attribution_channels` and `marts/attribution_paths`, snapshots by `dt` (definitions:
docs/marts.md "Attribution").

Input: a conversion's path and rule-based credits depend only on the events of its lookback,
so a snapshot's window is summed from two sources: the conversion days that have a snapshot
(their `attribution_touchpoints` rows, read back) and the others, computed from `events` of
[day - L - 2, D] (the run's own days, and window days never computed: before the first run).
A nightly run reads L + 3 days of events and W days of touchpoints, whatever the history. The
work:

1. in Spark: touches, conversions, each touch's conversion, the rule-based credits, and the
   path table of each snapshot (one collect of the distinct paths: small, whatever the events);
2. on the driver: the Markov and Shapley fits of each snapshot (`models.py`, numpy);
3. in Spark again: the fitted weights (a few rows per snapshot, broadcast) applied to the
   conversions, and the channel totals of both windows.

Which snapshots: a change of events on X reaches [X, X + W + L] (`Rules.horizon_days`), so the
run recomputes its day and every computed snapshot in that range of a marked date, in one pass.
A nightly run leaves changes older than D - PULSE_LATENESS_DAYS pending, like the other marts.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from include.pulse.runner import (
    Context,
    Job,
    Plan,
    PlanRequest,
    computed_dates,
    read_partitions,
    reported_dates,
    snapshot_planner,
)
from include.pulse.table import Table
from jobs.attribution import Rules, Weights
from jobs.attribution_channels import TABLE as ATTRIBUTION_CHANNELS
from jobs.attribution_channels.transform import (
    channels_table,
    daily_rule_credits,
    stored_daily_rule_credits,
)
from jobs.attribution_paths import TABLE as ATTRIBUTION_PATHS
from jobs.attribution_paths.transform import open_paths, paths_table
from jobs.attribution_paths_daily import TABLE as ATTRIBUTION_PATHS_DAILY
from jobs.attribution_paths_daily.transform import (
    conversion_paths,
    daily_paths,
    paths_daily_table,
    stored_daily_paths,
)
from jobs.attribution_touchpoints import TABLE as ATTRIBUTION_TOUCHPOINTS
from jobs.attribution_touchpoints.models import PathCount, fit, parse_path
from jobs.attribution_touchpoints.transform import (
    conversions,
    credited_touches,
    data_driven_credits,
    journeys,
    relevant_events,
    touch_events,
    touchpoints,
)
from jobs.events import TABLE as EVENTS
from jobs.events.schema import SCHEMA as EVENTS_SCHEMA


@dataclass
class Marts:
    """The three marts of the snapshots, what was cached for them, and the run's figures."""

    frames: dict[str, DataFrame]
    cached: list[DataFrame] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def fit_weights(paths: DataFrame, dts: list[date]) -> tuple[Weights, dict[str, Any]]:
    """Fit the data-driven models of every snapshot on its path table (one collect of the
    distinct paths) and return their weights, with the fits' figures for the report."""
    by_day: dict[date, list[PathCount]] = defaultdict(list)
    for row in paths.select("dt", "path", "total_conversions", "total_null").collect():
        by_day[row["dt"]].append(
            PathCount(parse_path(row["path"]), row["total_conversions"], row["total_null"])
        )
    markov, shapley, figures = {}, {}, {}
    for dt in dts:
        started = time.perf_counter()
        fitted = fit(by_day.get(dt, []))
        markov.update({(dt, c): w for c, w in fitted.markov.items()})
        shapley.update({(dt, c): w for c, w in fitted.shapley.items()})
        figures[dt.isoformat()] = {
            "distinct_paths": len(by_day.get(dt, [])),
            "channels": len(fitted.markov),
            "shapley_method": fitted.shapley_method,
            "fit_seconds": round(time.perf_counter() - started, 3),
        }
    return Weights(markov, shapley), figures


def attribution_marts(
    events: DataFrame,
    dts: list[date],
    rules: Rules,
    stored: Stored | None = None,
    fresh: Sequence[date] | None = None,
) -> Marts:
    """The marts for the snapshot days `dts`.

    `fresh`: the conversion days computed from `events` (default: every day of the windows),
    which must hold the partitions from `rules.first_event_date(fresh[0])` to `dts[-1]`;
    `stored`: the daily aggregates of the other window days, read back."""
    fresh_days = list(fresh) if fresh is not None else sorted(rules.window(dts))
    relevant = relevant_events(events, rules)
    journey = journeys(touch_events(relevant), conversions(relevant, rules)).persist()
    credited = (
        credited_touches(journey, rules).where(F.col("conversion_date").isin(fresh_days)).persist()
    )
    per_day = daily_paths(conversion_paths(credited)).persist()
    window_paths, rule_credits = per_day, daily_rule_credits(credited)
    if stored is not None:
        window_paths = window_paths.unionByName(stored.paths)
        rule_credits = rule_credits.unionByName(stored.rule_credits)
    paths = paths_table(window_paths, open_paths(journey, dts, rules), dts, rules).persist()
    weights, fits = fit_weights(paths, dts)
    day_rows = data_driven_credits(credited.where(F.col("conversion_date").isin(dts)), weights)
    counts = _conversion_counts(journey, dts)
    return Marts(
        frames={
            ATTRIBUTION_TOUCHPOINTS.name: touchpoints(day_rows),
            ATTRIBUTION_CHANNELS.name: channels_table(
                day_rows, rule_credits, window_paths, weights, dts, rules
            ),
            ATTRIBUTION_PATHS.name: paths,
            ATTRIBUTION_PATHS_DAILY.name: paths_daily_table(per_day, dts),
        },
        cached=[journey, credited, per_day, paths],
        summary=_summary(rules, counts, fits),
    )


def _conversion_counts(journey: DataFrame, dts: list[date]) -> dict[str, tuple[int, int]]:
    """Conversion day (ISO) -> (conversions, those whose revenue was not a number), of `dts`."""
    return {
        row["conversion_date"].isoformat(): (row["conversions"], row["invalid"])
        for row in journey.where((F.col("kind") == 1) & F.col("conversion_date").isin(dts))
        .groupBy("conversion_date")
        .agg(
            F.count(F.lit(1)).alias("conversions"),
            F.sum((~F.col("revenue_valid")).cast("long")).alias("invalid"),
        )
        .collect()
    }


def _summary(
    rules: Rules, counts: Mapping[str, tuple[int, int]], fits: Mapping[str, Any]
) -> dict[str, Any]:
    """The run report's attribution section: the rules, the conversions of each fitted day
    and the fits."""
    return {
        "attribution": {
            "lookback_days": rules.lookback_days,
            "window_days": rules.window_days,
            "half_life_days": rules.half_life_days,
            "conversion_events": list(rules.conversion_events),
            "revenue_property": rules.revenue_property,
        },
        "conversions": {d: counts.get(d, (0, 0))[0] for d in sorted(fits)},
        # Conversions whose value was missing or not a number (credited with revenue 0).
        "revenue_not_a_number": {d: counts.get(d, (0, 0))[1] for d in sorted(fits)},
        "fits": fits,
    }


def plan(request: PlanRequest) -> Plan:
    """The snapshot planner with the reach the run's settings give a change."""
    rules = Rules.from_config(request.config) if request.config else Rules()
    return snapshot_planner(rules.horizon_days)(request)


@dataclass(frozen=True)
class Stored:
    """The daily aggregates of window days that have a snapshot, read back."""

    paths: DataFrame  # `daily_paths` rows
    rule_credits: DataFrame  # `daily_rule_credits` rows


def _stored(context: Context, days: set[date]) -> Stored:
    def read(table: Table) -> DataFrame:
        return read_partitions(context.spark, context.warehouse, table, table.schema(), dates=days)

    return Stored(
        stored_daily_paths(read(ATTRIBUTION_PATHS_DAILY)),
        stored_daily_rule_credits(read(ATTRIBUTION_CHANNELS)),
    )


def build(context: Context) -> Mapping[str, DataFrame]:
    dts = list(context.plan.dates)
    rules = Rules.from_config(context.config)
    # A conversion's path and rule-based credits depend on its lookback only: the window's
    # days that have a snapshot are read back as daily aggregates, the others computed.
    computed = computed_dates(context.warehouse, ATTRIBUTION_PATHS) | reported_dates(
        context.warehouse, ATTRIBUTION_TOUCHPOINTS.group
    )
    fresh = rules.fresh_days(dts, computed)
    stored_days = rules.window(dts) - set(fresh)
    events = read_partitions(
        context.spark,
        context.warehouse,
        EVENTS,
        EVENTS_SCHEMA,
        first=rules.first_event_date(fresh[0]),
        last=dts[-1],
    )
    marts = attribution_marts(events, dts, rules, _stored(context, stored_days), fresh)
    context.cached.extend(marts.cached)
    context.summary.update(marts.summary)
    context.summary["window_days_read_back"] = len(stored_days)
    context.summary["window_days_computed"] = len(fresh)
    # The Spark passes up to the path table, its collect and the fits (the rest is staging).
    context.watch.lap("paths_and_fit")
    return marts.frames


JOB = Job(
    name=ATTRIBUTION_TOUCHPOINTS.group,
    # The path table first: the runner takes the snapshots computed from the first table's
    # partitions, and it has rows whenever either other one does (a day without conversions
    # but with conversions in its window has no touchpoints, yet its channels must be redone).
    tables=(
        ATTRIBUTION_PATHS,
        ATTRIBUTION_TOUCHPOINTS,
        ATTRIBUTION_CHANNELS,
        ATTRIBUTION_PATHS_DAILY,
    ),
    plan=plan,
    build=build,
)
