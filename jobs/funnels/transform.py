"""`funnels` transforms: pure functions on DataFrames (`job.py` does the I/O). The per-user
chains computed here (`user_steps`) also feed `funnel_times` (`jobs/funnel_times/transform.py`),
which `funnel_marts` builds with `funnels` in one pass.

Definitions (docs/marts.md "Funnels"): a user enters funnel F on day D when one of their step-1
events is on D (`event_date`, the day in PULSE_TIMEZONE). From a step-1 event s, step k + 1 is
the first event of step k + 1 (in (`event_ts`, `event_id`) order) whose `event_ts` is strictly
later than step k's and at most `window_seconds` after s (bound included); other events may
come between. The user's chain is the longest over their step-1 events of D, the earliest
start among equals: ClickHouse's `windowFunnel(window, 'strict_increase')` with step 1
restricted to D, every chain kept (its `strict_once` algorithm; see docs/marts.md for the
cases where the default one keeps fewer).

How, exactly and without a per-user loop: for each step k the chains still alive look up
"the first step-k event strictly after my last step" with one window function over the
user's rows (chains and step-k events sorted by time descending, the chain before the events
of its own instant; `last(..., ignorenulls)` over the rows before it is the nearest later
event), then keep it when it is inside the window. One sort per step, linear in the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.funnel_definitions import MICROS, PROPERTY_PREFIX, Funnels, Step
from jobs.funnel_times import TABLE as FUNNEL_TIMES
from jobs.funnel_times.schema import SCHEMA as FUNNEL_TIMES_SCHEMA
from jobs.funnel_times.transform import funnel_times_table
from jobs.funnels import TABLE as FUNNELS
from jobs.funnels.schema import BREAKDOWNS, UNKNOWN
from jobs.funnels.schema import SCHEMA as FUNNELS_SCHEMA

BREAKDOWN_COLUMNS = tuple(b for b in BREAKDOWNS if b != "all")


def step_condition(step: Step) -> Column:
    """True for an event of `step`: its name, and every filter of its `where`."""
    condition = F.col("event_name") == F.lit(step.event)
    for key, value in step.where:
        if key.startswith(PROPERTY_PREFIX):
            name = key[len(PROPERTY_PREFIX) :].replace("\\", "\\\\").replace("'", "\\'")
            text = json_text(value)
            found = F.get_json_object(F.col("properties"), f"$['{name}']")
            condition = condition & found.eqNullSafe(F.lit(text))
        else:
            condition = condition & F.col(key).eqNullSafe(F.lit(value))
    return condition


def json_text(value: str | int | bool) -> str:
    """A filter value as `get_json_object` returns a scalar property: its text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def step_events(events: DataFrame, funnels: Funnels) -> DataFrame:
    """One row per (funnel, step, event of that step): an event of several steps (or funnels)
    has one row each. Columns: funnel, step, user_id, event_id, ts (microseconds since the
    epoch), event_date, platform, channel, plan."""
    matches = F.array(
        *[
            F.when(
                step_condition(step),
                F.struct(F.lit(f.name).alias("funnel"), F.lit(n).alias("step")),
            )
            for f in funnels.funnels
            for n, step in enumerate(f.steps, start=1)
        ]
    )
    return (
        events.select(
            F.explode(F.filter(matches, lambda m: m.isNotNull())).alias("m"),
            "user_id",
            "event_id",
            F.unix_micros("event_ts").alias("ts"),
            "event_date",
            *BREAKDOWN_COLUMNS,
        )
        .select(
            F.col("m.funnel").alias("funnel"),
            F.col("m.step").cast("int").alias("step"),
            "user_id",
            "event_id",
            "ts",
            "event_date",
            *BREAKDOWN_COLUMNS,
        )
        .where(F.col("ts").isNotNull())
    )


def _windows(funnels: Funnels) -> Column:
    """Each chain's funnel's window in microseconds."""
    window = F.lit(None).cast("long")
    for f in funnels.funnels:
        window = F.when(F.col("funnel") == f.name, F.lit(f.window_seconds * MICROS)).otherwise(
            window
        )
    return window


def chains(steps: DataFrame, funnels: Funnels, dts: Sequence[date]) -> DataFrame:
    """One row per step-1 event on an entry day of `dts` (a chain start): funnel, user_id, dt,
    start_id, the start's breakdown columns, `level` (the steps its chain reached) and `times`
    (each reached step's time, microseconds since the epoch, step 1 first)."""
    chain = steps.where((F.col("step") == 1) & F.col("event_date").isin(list(dts))).select(
        "funnel",
        "user_id",
        F.col("event_date").alias("dt"),
        F.col("event_id").alias("start_id"),
        *BREAKDOWN_COLUMNS,
        F.lit(1).alias("level"),
        F.array("ts").alias("times"),
    )
    chain = chain.withColumn("window", _windows(funnels))
    by_user = ("funnel", "user_id")
    last_step = max((len(f.steps) for f in funnels.funnels), default=1)
    for k in range(2, last_step + 1):
        # Alive chains (kind 0) and the events of step k (kind 1) in one sort per user, time
        # descending; at one instant the chain comes first, so an event of its own instant is
        # not "later"; among events of one instant the smallest event_id is met last.
        alive = F.col("level") == k - 1
        frontier = chain.select(
            *chain.columns,
            F.when(alive, F.element_at("times", -1)).alias("at"),
            F.lit(0).alias("kind"),
            F.lit(None).cast("string").alias("event_id"),
        )
        events_k = steps.where(F.col("step") == k).select(
            *by_user,
            *[F.lit(None).cast(chain.schema[c].dataType).alias(c) for c in chain.columns[2:]],
            F.col("ts").alias("at"),
            F.lit(1).alias("kind"),
            "event_id",
        )
        ordered = Window.partitionBy(*by_user).orderBy(
            F.col("at").desc(), F.col("kind").asc(), F.col("event_id").desc()
        )
        nearest = F.last(F.when(F.col("kind") == 1, F.col("at")), ignorenulls=True).over(
            ordered.rowsBetween(Window.unboundedPreceding, Window.currentRow)
        )
        looked = frontier.unionByName(events_k).withColumn("next", nearest)
        start = F.element_at("times", 1)
        advances = alive & F.col("next").isNotNull() & (F.col("next") <= start + F.col("window"))
        chain = looked.where(F.col("kind") == 0).select(
            *by_user,
            *[c for c in chain.columns[2:] if c not in ("level", "times", "window")],
            F.when(advances, F.lit(k)).otherwise(F.col("level")).alias("level"),
            F.when(advances, F.concat("times", F.array("next")))
            .otherwise(F.col("times"))
            .alias("times"),
            "window",
        )
    return chain.drop("window")


def best_chains(chain: DataFrame) -> DataFrame:
    """Each (funnel, dt, user)'s chain: the one that reached furthest, the earliest start
    (`event_ts`, then `event_id`) among equals. Its start is the user's entry event: the
    breakdown values are that event's."""
    order = Window.partitionBy("funnel", "dt", "user_id").orderBy(
        F.col("level").desc(), F.element_at("times", 1).asc(), F.col("start_id").asc()
    )
    return (
        chain.withColumn("_rank", F.row_number().over(order))
        .where(F.col("_rank") == 1)
        .drop("_rank")
    )


def user_steps(best: DataFrame) -> DataFrame:
    """One row per (funnel, dt, user, step reached): `micros` from step 1 to the step."""
    return best.select(
        "funnel",
        "dt",
        "user_id",
        *BREAKDOWN_COLUMNS,
        F.posexplode("times").alias("position", "at"),
        F.element_at("times", 1).alias("start"),
    ).select(
        "funnel",
        "dt",
        "user_id",
        *BREAKDOWN_COLUMNS,
        (F.col("position") + 1).cast("int").alias("step"),
        (F.col("at") - F.col("start")).alias("micros"),
    )


def _steps_frame(spark, funnels: Funnels) -> DataFrame:
    rows = [
        (f.name, n, step.label) for f in funnels.funnels for n, step in enumerate(f.steps, start=1)
    ]
    schema = "funnel string, step int, step_event string"
    return spark.createDataFrame(rows, schema)


def _complete_frame(
    spark, funnels: Funnels, dts: Sequence[date], timezone: str, data_end: datetime | None
) -> DataFrame:
    """(funnel, dt, complete): every chain entered on dt has ended by `data_end`."""
    rows = [
        (f.name, d, data_end is not None and f.window_closes(d, timezone) <= data_end)
        for f in funnels.funnels
        for d in dts
    ]
    return spark.createDataFrame(rows, "funnel string, dt date, complete boolean")


def nearest_rank(values: Column, count: Column, percent: int) -> Column:
    """The `percent`th percentile by nearest rank of a sorted array: its element of rank
    ceil(percent / 100 * count) (1-based, integer arithmetic), null for no value."""
    # floor((n * p + 99) / 100) = ceil(n * p / 100); exact: the quotient of two integers
    # below 2**53 is rounded correctly, never up to the next integer.
    rank = F.floor((count * percent + 99) / 100).cast("int")
    return F.when(count > 0, F.element_at(values, rank))


def funnels_table(reached: DataFrame, funnels: Funnels, complete: DataFrame) -> DataFrame:
    """`marts/funnels` rows from `user_steps` rows (see the module docstring)."""
    spark = reached.sparkSession
    breakdown = F.explode(
        F.array(
            F.struct(F.lit("all").alias("breakdown"), F.lit("all").alias("breakdown_value")),
            *[
                F.struct(
                    F.lit(name).alias("breakdown"),
                    F.coalesce(F.col(name), F.lit(UNKNOWN)).alias("breakdown_value"),
                )
                for name in BREAKDOWN_COLUMNS
            ],
        )
    )
    keyed = reached.select("funnel", "dt", "user_id", "step", "micros", breakdown.alias("b"))
    keyed = keyed.select("funnel", "dt", "step", "micros", "b.breakdown", "b.breakdown_value")
    keys = ["funnel", "dt", "breakdown", "breakdown_value"]
    counted = keyed.groupBy(*keys, "step").agg(
        F.count(F.lit(1)).alias("users"),
        F.sort_array(F.collect_list("micros")).alias("micros"),
    )
    groups = counted.where(F.col("step") == 1).select(*keys)
    skeleton = groups.join(_steps_frame(spark, funnels), "funnel")
    rows = skeleton.join(counted, [*keys, "step"], "left").select(
        *keys,
        "step",
        "step_event",
        F.coalesce("users", F.lit(0)).cast("long").alias("users"),
        "micros",
    )
    by_group = Window.partitionBy(*keys).orderBy("step")
    previous = F.lag("users").over(by_group)
    first = F.first("users").over(by_group)
    seconds = F.lit(float(MICROS))
    out = rows.select(
        *keys,
        "step",
        "step_event",
        "users",
        F.when(F.col("step") == 1, F.lit(1.0))
        .when(previous > 0, F.col("users") / previous)
        .alias("conversion_from_previous"),
        (F.col("users") / first).alias("conversion_from_first"),
        (nearest_rank(F.col("micros"), F.col("users"), 50) / seconds).alias(
            "median_seconds_to_step"
        ),
        (nearest_rank(F.col("micros"), F.col("users"), 90) / seconds).alias("p90_seconds_to_step"),
    ).join(complete, ["funnel", "dt"])
    return out.select(*[F.col(f.name).cast(f.dataType) for f in FUNNELS_SCHEMA.fields])


def funnel_marts(
    events: DataFrame,
    funnels: Funnels,
    dts: Sequence[date],
    timezone: str,
    data_end: datetime | None,
    cached: list[DataFrame] | None = None,
) -> dict[str, DataFrame]:
    """Both tables for the entry days `dts`, by table name. `events`: the events table's rows
    (any superset of the days from each entry day to the last its windows reach; excluded
    events already dropped); `data_end`: the end (naive UTC) of the latest arrival day the
    warehouse has ingested, None if none (`complete` is then false)."""
    spark = events.sparkSession
    if not funnels.funnels or not dts:
        return {
            FUNNELS.name: spark.createDataFrame([], FUNNELS_SCHEMA),
            FUNNEL_TIMES.name: spark.createDataFrame([], FUNNEL_TIMES_SCHEMA),
        }
    steps = step_events(events, funnels).persist()
    reached = user_steps(best_chains(chains(steps, funnels, dts))).persist()
    if cached is not None:
        cached.extend((steps, reached))
    complete = _complete_frame(spark, funnels, dts, timezone, data_end)
    return {
        FUNNELS.name: funnels_table(reached, funnels, complete),
        FUNNEL_TIMES.name: funnel_times_table(reached, funnels, complete),
    }
