"""`retention_cohorts` transform: the cohort matrix of each snapshot by grain (day, ISO week,
calendar month) and breakdown, from the compact activity tables (never raw events), through a
per-user state (`retention_users_state`): `retention_state` builds or continues it,
`retention_cohorts` aggregates it. Definitions: docs/marts.md "Retention". Pure functions;
`jobs/retention_cohorts/job.py` does the I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from include.pulse.config import PulseConfig
from include.pulse.frames import conform
from jobs.retention_cohorts.schema import SCHEMA
from jobs.retention_users_state.schema import SCHEMA as STATE_SCHEMA

EPOCH = date(1970, 1, 1)


FIRST_MONDAY = date(1970, 1, 5)  # ISO weeks start on Monday


UNKNOWN = "unknown"  # a breakdown value the user's first day did not carry


DIMENSIONS = ("platform", "channel", "plan")


GRAINS = ("day", "week", "month")  # the state keeps each grain's periods, in the rules or not


@dataclass(frozen=True)
class Shape:
    """How many cohorts of a grain, and how many periods (k = 0 .. periods-1) each."""

    grain: str
    cohorts: int
    periods: int


@dataclass(frozen=True)
class Rules:
    shapes: tuple[Shape, ...]
    start_event: str | None = None  # None: the cohort is the user's first active day
    return_event: str | None = None  # None: any activity is a return

    @classmethod
    def from_config(cls, config: PulseConfig) -> Rules:
        return cls(
            shapes=(
                Shape("day", config.retention_day_cohorts, config.retention_day_periods),
                Shape("week", config.retention_week_cohorts, config.retention_week_periods),
                Shape("month", config.retention_month_cohorts, config.retention_month_periods),
            ),
            start_event=config.retention_start_event,
            return_event=config.retention_return_event,
        )

    def fingerprint(self) -> str:
        """The rules as stored with each state row: a state built under other rules (another
        shape, start or return event) is not continued, it is rebuilt."""
        return json.dumps(
            {
                "shapes": [[s.grain, s.cohorts, s.periods] for s in self.shapes],
                "start_event": self.start_event,
                "return_event": self.return_event,
            },
            sort_keys=True,
            separators=(",", ":"),
        )


def grain_index(grain: str, day: Column) -> Column:
    """The number of the period of `grain` containing `day` (consecutive periods differ by 1)."""
    if grain == "day":
        index = F.datediff(day, F.lit(EPOCH))
    elif grain == "week":
        index = F.floor(F.datediff(day, F.lit(FIRST_MONDAY)) / 7)
    else:
        index = (F.year(day) - 1970) * 12 + F.month(day) - 1
    return index.cast("int")


def period_index(grain: Column, day: Column) -> Column:
    """`grain_index` with the grain in a column."""
    return (
        F.when(grain == "day", grain_index("day", day))
        .when(grain == "week", grain_index("week", day))
        .otherwise(grain_index("month", day))
    )


def period_start(grain: Column, index: Column) -> Column:
    """The first day of period number `index` of `grain`."""
    return (
        F.when(grain == "day", F.date_add(F.lit(EPOCH), index))
        .when(grain == "week", F.date_add(F.lit(FIRST_MONDAY), index * 7))
        .otherwise(F.add_months(F.lit(EPOCH), index))
    )


def first_period_start(day: date, shape: Shape) -> date:
    """The first day of the oldest cohort of `shape` in the snapshot of `day`."""
    if shape.grain == "day":
        return day - timedelta(days=shape.cohorts - 1)
    if shape.grain == "week":
        return day - timedelta(days=day.weekday() + 7 * (shape.cohorts - 1))
    months = day.year * 12 + day.month - 1 - (shape.cohorts - 1)
    return date(months // 12, months % 12 + 1, 1)


def cohort_users(first_seen: DataFrame, start_days: DataFrame | None = None) -> DataFrame:
    """One row per user: `user_id, cohort_day` and the breakdown values of the user's first event.

    `first_seen`: `user_first_seen` rows (one per user: the first active day and the first_*
    attributes of that day). `cohort_day` is the user's first active day, or with `start_days`
    (user_id, event_date of a start event) the first day of that event; users without one are
    in no cohort.
    """
    users = first_seen.select(
        "user_id",
        F.col("first_seen_date").alias("cohort_day"),
        *[F.coalesce(F.col(f"first_{d}"), F.lit(UNKNOWN)).alias(d) for d in DIMENSIONS],
    )
    if start_days is None:
        return users
    started = start_days.groupBy("user_id").agg(F.min("event_date").alias("cohort_day"))
    return users.drop("cohort_day").join(started, "user_id")


def earliest_period(dts: list[date], rules: Rules) -> date:
    """The first day any matrix of the snapshots `dts` looks at: its oldest cohort's start
    (the snapshots of later days look at later days only)."""
    return min(first_period_start(min(dts), shape) for shape in rules.shapes)


def retention_state(
    users: DataFrame,
    active_days: DataFrame,
    dts: list[date],
    rules: Rules,
    previous: DataFrame | None = None,
    since: date | None = None,
) -> DataFrame:
    """The per-user state of every snapshot in `dts` (`jobs/retention_users_state/schema.py`).

    One row per user whose cohort day is in a matrix of the snapshot D (on or after
    `earliest_period([D])`): the cohort day, the breakdown values and, per grain, the periods k
    (below the grain's number of periods) the user was active in and the last active k, up
    to D. The cohort day itself counts as activity in period 0; activity before it does not.

    `users`: `cohort_users(...)`; `active_days`: (user_id, event_date) of returning activity.
    With `previous`, the state as of `since` (a day before every D of `dts`), only the users
    and the activity after `since` are folded in: the users of `previous` whose cohort is still
    in a matrix of D keep their periods, the activity of (since, D] adds to them, and the users
    whose cohort day is in (since, D] join. Without it, the state is built from every row given
    (a bootstrap). Both give the same rows (tested).
    """
    spark = users.sparkSession
    windows = spark.createDataFrame(
        [(d, earliest_period([d], rules)) for d in dts], "dt date, earliest date"
    )
    joining = users.where(_after("cohort_day", since))
    members = _snapshot_members(joining, windows, previous)
    days = _days_to_fold(active_days, joining, since)
    folded = _active_periods(members, days, rules)
    return conform(_continued_state(members, folded, rules), STATE_SCHEMA)


def _after(column: str, since: date | None) -> Column:
    """Whether `column` is after `since` (always, without one)."""
    return F.col(column) > F.lit(since) if since is not None else F.lit(True)


def _no_periods() -> Column:
    return F.array().cast("array<int>")


def _snapshot_members(
    joining: DataFrame, windows: DataFrame, previous: DataFrame | None
) -> DataFrame:
    """One row per snapshot `dt` (of `windows`) and member: the joining users whose cohort day
    is in a matrix of dt, with no periods yet, and the members of `previous` still in one."""
    members = (
        joining.crossJoin(F.broadcast(windows))
        .where(F.col("cohort_day").between(F.col("earliest"), F.col("dt")))
        .select(
            "dt",
            "user_id",
            "cohort_day",
            *DIMENSIONS,
            *[
                column
                for grain in GRAINS
                for column in (
                    _no_periods().alias(f"{grain}_active"),
                    F.lit(None).cast("int").alias(f"{grain}_last"),
                )
            ],
        )
    )
    if previous is None:
        return members
    carried = (
        previous.crossJoin(F.broadcast(windows))
        .where(F.col("cohort_day") >= F.col("earliest"))
        .select(members.columns)
    )
    return carried.unionByName(members)


def _days_to_fold(active_days: DataFrame, joining: DataFrame, since: date | None) -> DataFrame:
    """(user_id, event_date): the activity after `since` and the joining users' cohort days."""
    return (
        active_days.select("user_id", "event_date")
        .where(_after("event_date", since))
        .unionByName(joining.select("user_id", F.col("cohort_day").alias("event_date")))
    )


def _period_k(grain: str) -> Column:
    """The period of `grain` of `event_date`, counted from the one of `cohort_day` (k = 0)."""
    return grain_index(grain, F.col("event_date")) - grain_index(grain, F.col("cohort_day"))


def _active_periods(members: DataFrame, days: DataFrame, rules: Rules) -> DataFrame:
    """Per (dt, member): `_<grain>_active`, the periods (below the grain's number of periods)
    they were active in over `days`, up to dt, and `_<grain>_last`, the last of them."""
    periods = {shape.grain: shape.periods for shape in rules.shapes}
    # The periods each member was active in over the days folded in, per grain.
    return (
        members.select("dt", "user_id", "cohort_day")
        .join(days, "user_id")
        .where((F.col("event_date") >= F.col("cohort_day")) & (F.col("event_date") <= F.col("dt")))
        .groupBy("dt", "user_id")
        .agg(
            *[
                column
                for grain in GRAINS
                for column in (
                    F.collect_set(
                        F.when(_period_k(grain) < periods.get(grain, 0), _period_k(grain))
                    ).alias(f"_{grain}_active"),
                    F.max(_period_k(grain)).alias(f"_{grain}_last"),
                )
            ]
        )
    )


def _continued_state(members: DataFrame, folded: DataFrame, rules: Rules) -> DataFrame:
    """The members' state rows: their periods so far joined with the `folded` ones."""
    return members.join(folded, ["dt", "user_id"], "left").select(
        "user_id",
        "cohort_day",
        *DIMENSIONS,
        *[
            column
            for grain in GRAINS
            for column in (
                F.array_sort(
                    F.array_distinct(
                        F.concat(
                            F.col(f"{grain}_active"),
                            F.coalesce(F.col(f"_{grain}_active"), _no_periods()),
                        )
                    )
                ).alias(f"{grain}_active"),
                F.greatest(F.col(f"{grain}_last"), F.col(f"_{grain}_last")).alias(f"{grain}_last"),
            )
        ],
        F.lit(rules.fingerprint()).alias("rules"),
        "dt",
    )


def retention_cohorts(states: DataFrame, rules: Rules) -> DataFrame:
    """The cohort matrix of every snapshot of `states` (see SCHEMA): an aggregate of the
    per-user states (`retention_state`), one per snapshot `dt`."""
    per_user = _member_periods(states, rules)
    matrix = _counts_by_breakdown(_counts_by_values(per_user))
    return conform(_known_dimensions(_matrix_rows(matrix)), SCHEMA)


def _of_grain(what: str) -> Column:
    """The state's `<grain>_<what>` column of the row's `grain`."""
    grain = F.col("grain")
    return (
        F.when(grain == "day", F.col(f"day_{what}"))
        .when(grain == "week", F.col(f"week_{what}"))
        .otherwise(F.col(f"month_{what}"))
    )


def _member_periods(states: DataFrame, rules: Rules) -> DataFrame:
    """One row per (snapshot, grain, member of one of its cohorts): `now` and `cohort` period
    numbers, the active periods and the last one."""
    spark = states.sparkSession
    shapes = spark.createDataFrame(
        [(s.grain, s.cohorts, s.periods) for s in rules.shapes],
        "grain string, cohorts int, periods int",
    )
    # One row per (snapshot, grain, member): the periods (k) they were active in, from the
    # cohort on and up to the snapshot, and the last of them.
    return (
        states.crossJoin(F.broadcast(shapes))
        .select(
            "dt",
            "grain",
            "periods",
            *DIMENSIONS,
            period_index(F.col("grain"), F.col("dt")).alias("now"),
            period_index(F.col("grain"), F.col("cohort_day")).alias("cohort"),
            "cohorts",
            _of_grain("active").alias("active"),
            _of_grain("last").alias("last"),
        )
        .where(F.col("cohort") > F.col("now") - F.col("cohorts"))
    )


def _counts_by_values(per_user: DataFrame) -> DataFrame:
    """Per (dt, grain, cohort, period_number, breakdown values): `cohort_size`, `retained`,
    `retained_unbounded`."""
    # Every cell up to D (cells after D are not emitted), counted first per combination of
    # breakdown values, then per breakdown: a user is retained in k if active in c+k, and
    # retained unbounded if their last active period is >= c+k.
    return (
        per_user.select(
            "dt",
            "grain",
            "cohort",
            *DIMENSIONS,
            "active",
            "last",
            F.explode(
                F.sequence(F.lit(0), F.least(F.col("periods") - 1, F.col("now") - F.col("cohort")))
            ).alias("period_number"),
        )
        .groupBy("dt", "grain", "cohort", "period_number", *DIMENSIONS)
        .agg(
            F.count(F.lit(1)).alias("cohort_size"),
            F.sum(F.array_contains("active", F.col("period_number")).cast("long")).alias(
                "retained"
            ),
            F.sum((F.col("last") >= F.col("period_number")).cast("long")).alias(
                "retained_unbounded"
            ),
        )
    )


def _counts_by_breakdown(by_values: DataFrame) -> DataFrame:
    """The counts per `dimension` (and `all`) and `dimension_value`."""
    breakdowns = F.array(
        F.struct(F.lit("all").alias("dimension"), F.lit("all").alias("value")),
        *[F.struct(F.lit(d).alias("dimension"), F.col(d).alias("value")) for d in DIMENSIONS],
    )
    return (
        by_values.select("*", F.explode(breakdowns).alias("tag"))
        .groupBy(
            "dt",
            "grain",
            "cohort",
            "period_number",
            F.col("tag.dimension").alias("dimension"),
            F.col("tag.value").alias("dimension_value"),
        )
        .agg(*[F.sum(c).alias(c) for c in ("cohort_size", "retained", "retained_unbounded")])
    )


def _matrix_rows(matrix: DataFrame) -> DataFrame:
    """The matrix's columns: period starts, rates and whether each cell is complete."""
    next_start = period_start(F.col("grain"), F.col("cohort") + F.col("period_number") + 1)
    return matrix.select(
        "grain",
        period_start(F.col("grain"), F.col("cohort")).alias("cohort_start"),
        "period_number",
        "cohort_size",
        "retained",
        (F.col("retained") / F.col("cohort_size")).alias("retention_rate"),
        "retained_unbounded",
        (F.col("retained_unbounded") / F.col("cohort_size")).alias("unbounded_rate"),
        (next_start <= F.date_add(F.col("dt"), 1)).alias("is_complete"),
        "dimension",
        "dimension_value",
        "dt",
    )


def _known_dimensions(frame: DataFrame) -> DataFrame:
    """Drop a breakdown whose every value is `unknown` in a snapshot (e.g. no event has a plan)."""
    from pyspark.sql import Window

    scope = Window.partitionBy("dt", "grain", "dimension")
    known = F.max((F.col("dimension_value") != UNKNOWN).cast("int")).over(scope)
    kept = frame.withColumn("_known", known).where(
        (F.col("dimension") == "all") | (F.col("_known") == 1)
    )
    return kept.drop("_known")
