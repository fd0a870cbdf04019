"""`retention_users_state` transform: the per-user state the retention matrices aggregate,
built from the compact activity tables or continued from the state of an earlier day:
`cohort_users` (who is in which cohort, with their breakdown values) and `retention_state`.
Definitions: docs/marts.md "Retention". Pure functions; `jobs/retention_cohorts/job.py` (the
group's job) does the I/O and decides when a state is continued.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from include.pulse.frames import conform
from jobs.retention_rules import DIMENSIONS, GRAINS, UNKNOWN, Rules, earliest_period, grain_index
from jobs.retention_users_state.schema import SCHEMA


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
    return conform(_continued_state(members, folded, rules), SCHEMA)


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
