"""`users_state`: the incremental users state, one step per day (Mozilla's `clients_last_seen`).

Inputs of the step for day D: `users_state` of D-1, `user_daily` of D, and `users_archive`
(users who left the state earlier, so a user back after a long absence keeps their history).
Outputs:
- `users_state/dt=D/`: one row per user active in [D-63, D] (grain: dt, user_id):
  `days_seen_bits` (bit k set = active on D-k; bit 0 = D), `first_seen_date`, `last_seen_date`,
  running totals `active_days_total`, `events_total`, the latest `platform`/`account_id`, and
  `revenue_total` (the running sum of `user_daily.revenue`, added in date order).
- `users_archive/dt=D/`: the users whose window emptied on D (last seen D-64), same columns with
  `days_seen_bits = 0`. Only users away for 64+ days are ever looked up there.

The step reads one day of state and one day of activity, so its cost follows the number of
recently active users, not the length of history. `users_state_range` gives the rows of several
consecutive steps in one job (a run recomputing days after late data, a backfill). The chain is
run by `jobs/active_users/job.py`, which also decides where it must restart after late data.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.users_state.schema import FILE_SCHEMA

# Running values a multi-day step folds over the user's active days, not reads off the last.
FOLDED = ("revenue_total", "gap_sq_total", "gap_max_days")
# In that fold: the days from the previous active day (acc.l, null before the first) to x.d.
_GAP = "CAST(datediff(x.d, coalesce(acc.l, x.d)) AS BIGINT)"


def with_departed(state: DataFrame, archived: DataFrame) -> DataFrame:
    """`users_state` rows of D + the archived rows of users not in it -> one row per user who
    was ever active by D (columns of FILE_SCHEMA).

    `archived`: at most one row per user (`users_archive_latest`'s `latest_archived`), from
    archive partitions dated D or earlier only (a later departure is the future)."""
    columns = FILE_SCHEMA.fieldNames()
    current = state.select(*columns)
    gone = archived.select(*columns).join(current.select("user_id"), "user_id", "left_anti")
    return current.unionByName(gone)


def states_as_of(
    state: DataFrame, archive: DataFrame, dts: list[date], window_days: int | None = None
) -> DataFrame:
    """The users-state rows as of each snapshot D of `dts`, several snapshots at once:
    `with_departed` per D. Columns: FILE_SCHEMA and `dt`.

    `state`: `users_state` rows with their `dt` (those of `dts` are used). `archive`: archived
    rows with a `dt` (a `users_archive` partition's day, or a `users_archive_latest` snapshot's
    day for its rows); for D, the latest row dated D or earlier of each user not in the state of
    D stands for them. `window_days`: only the archived users last seen in the `window_days`
    days up to D (the churn population's window: older ones are not in it), which bounds the
    rows to the users who left recently."""
    columns = FILE_SCHEMA.fieldNames()
    snapshots = state.sparkSession.createDataFrame([(d,) for d in dts], "dt date")
    current = state.where(F.col("dt").isin(list(dts))).select(*columns, "dt")
    condition = F.col("_archived") <= F.col("dt")
    if window_days is not None:
        condition &= F.col("last_seen_date") > F.date_sub(F.col("dt"), window_days)
    latest = F.row_number().over(
        Window.partitionBy("dt", "user_id").orderBy(F.col("_archived").desc())
    )
    gone = (
        archive.select(*columns, F.col("dt").alias("_archived"))
        .join(F.broadcast(snapshots), condition)
        .withColumn("_n", latest)
        .where(F.col("_n") == 1)
        .select(*columns, "dt")
        .join(current.select("dt", "user_id"), ["dt", "user_id"], "left_anti")
    )
    return current.unionByName(gone.select(*columns, "dt"))


def next_users_state(
    previous: DataFrame, today: DataFrame, archived: DataFrame, day: date
) -> DataFrame:
    """state(D-1) + user_daily(D) -> every row of day D, staying or leaving.

    `archived` holds at most one row per user (`users_archive_latest`'s `latest_archived`) of
    users who left the state before D. Rows with `days_seen_bits == 0` are the users leaving the
    window on D.
    """
    folded = _folded_by_user(_stacked_sources(previous, today, archived))
    return _step_rows(folded, day)


def _tagged(frame: DataFrame, source: str, values: dict[str, Column]) -> DataFrame:
    """`frame` as rows of the state's columns (`values`, null where missing) tagged `source`."""
    columns = FILE_SCHEMA.fieldNames()
    return frame.select(
        F.lit(source).alias("source"),
        *[
            values.get(c, F.lit(None)).cast(f.dataType).alias(c)
            for c, f in zip(columns, FILE_SCHEMA.fields, strict=True)
        ],
    )


def _stacked_sources(previous: DataFrame, today: DataFrame, archived: DataFrame) -> DataFrame:
    """The state of D-1 (`p`), the day's activity (`t`) and the archive (`a`), tagged, stacked."""
    # One shuffle instead of two joins: stack the three sources, tagged, and fold per user.
    columns = FILE_SCHEMA.fieldNames()
    return (
        _tagged(previous, "p", {c: F.col(c) for c in columns})
        .unionByName(
            _tagged(
                today,
                "t",
                {
                    "user_id": F.col("user_id"),
                    "events_total": F.col("event_count"),
                    "revenue_total": F.col("revenue"),
                    "platform": F.col("platform"),
                    "account_id": F.col("account_id"),
                },
            )
        )
        .unionByName(_tagged(archived, "a", {c: F.col(c) for c in columns}))
    )


def _folded_by_user(stacked: DataFrame) -> DataFrame:
    """One row per user of day D: `known` (in the state of D-1), `active` (on D) and each
    source's values as `<source>_<column>`."""
    columns = FILE_SCHEMA.fieldNames()

    def of(source: str, column: str) -> Column:
        return F.max(F.when(F.col("source") == source, F.col(column)))

    folded = stacked.groupBy("user_id").agg(
        F.max(F.col("source") == "p").alias("known"),
        F.max(F.col("source") == "t").alias("active"),
        *[of(s, c).alias(f"{s}_{c}") for s in "pta" for c in columns if c != "user_id"],
    )
    # Users only in the archive are not part of day D.
    return folded.where(F.col("known") | F.col("active"))


def _step_rows(folded: DataFrame, day: date) -> DataFrame:
    """Each folded user's row of day D: bits, first and last seen, the running totals."""
    active = F.col("active")
    known = F.col("known")
    day_lit = F.lit(day).cast(T.DateType())
    # Java long arithmetic: shifting drops bit 63, i.e. the day that left the 64-day window.
    bits = F.shiftleft(F.coalesce(F.col("p_days_seen_bits"), F.lit(0).cast("long")), 1).bitwiseOR(
        F.when(active, F.lit(1)).otherwise(F.lit(0)).cast("long")
    )

    def carried(column: str, default: object) -> Column:
        return F.when(known, F.col(f"p_{column}")).otherwise(
            F.coalesce(F.col(f"a_{column}"), F.lit(default))
        )

    rows = folded.select(
        F.col("user_id"),
        bits.alias("days_seen_bits"),
        F.when(known, F.col("p_first_seen_date"))
        .otherwise(F.coalesce(F.col("a_first_seen_date"), day_lit))
        .alias("first_seen_date"),
        F.when(active, day_lit).otherwise(F.col("p_last_seen_date")).alias("last_seen_date"),
        (carried("active_days_total", 0) + F.when(active, 1).otherwise(0)).alias(
            "active_days_total"
        ),
        (carried("events_total", 0) + F.coalesce(F.col("t_events_total"), F.lit(0))).alias(
            "events_total"
        ),
        F.coalesce(F.col("t_platform"), F.col("p_platform"), F.col("a_platform")).alias("platform"),
        F.coalesce(F.col("t_account_id"), F.col("p_account_id"), F.col("a_account_id")).alias(
            "account_id"
        ),
        *_step_folded_totals(day_lit),
    )
    return rows.select(*[F.col(f.name).cast(f.dataType) for f in FILE_SCHEMA.fields])


def _step_folded_totals(day_lit: Column) -> list[Column]:
    """The `FOLDED` columns of a folded user on day D: the totals before D plus the day's."""
    active = F.col("active")
    known = F.col("known")
    # The total before D: the state's, else the archived row's (either may be null: unknown),
    # else 0 for a user seen for the first time.
    revenue_before = (
        F.when(known, F.col("p_revenue_total"))
        .when(F.col("a_first_seen_date").isNotNull(), F.col("a_revenue_total"))
        .otherwise(F.lit(0.0))
    )

    def before(column: str) -> Column:
        """A carried total before D, as `revenue_before` (0 for a new user)."""
        return (
            F.when(known, F.col(f"p_{column}"))
            .when(F.col("a_first_seen_date").isNotNull(), F.col(f"a_{column}"))
            .otherwise(F.lit(0).cast("long"))
        )

    # The gap an active day closes: days since the user's previous active day (0 for the
    # first one ever).
    previous_day = F.when(known, F.col("p_last_seen_date")).otherwise(F.col("a_last_seen_date"))
    gap = F.coalesce(F.datediff(day_lit, previous_day), F.lit(0)).cast("long")
    return [
        # Added only on an active day (as `users_state_range` folds it), 0 for a day without
        # a revenue value; a null carried total (a state older than the column) stays null.
        F.when(active, revenue_before + F.coalesce(F.col("t_revenue_total"), F.lit(0.0)))
        .otherwise(revenue_before)
        .alias("revenue_total"),
        F.when(active, before("gap_sq_total") + gap * gap)
        .otherwise(before("gap_sq_total"))
        .alias("gap_sq_total"),
        # greatest() skips nulls: an unknown longest gap must stay unknown.
        F.when(active & before("gap_max_days").isNotNull(), F.greatest(before("gap_max_days"), gap))
        .otherwise(before("gap_max_days"))
        .alias("gap_max_days"),
    ]


def users_state_range(
    previous: DataFrame, daily: DataFrame, archived: DataFrame, start: date, end: date
) -> DataFrame:
    """state(start-1) + user_daily(start..end) -> the rows of every day start..end, with `dt`:
    what `next_users_state` gives step after step, in one job (a backfill's chain of N days
    costs one shuffle instead of N steps, each with its write and read-back).

    `previous`: users_state of start-1; `daily`: user_daily rows (with `event_date`) in [start,
    end]; `archived`: at most one row per user (`users_archive_latest`'s `latest_archived`) of
    users who left the state before `start`. Each user's activity in the range is gathered once,
    sorted, and each day's row is read off it and off the user's row before the range (their
    state of start-1, or else their archived row). A user who leaves and comes back inside the
    range carries their history, as the archive carries it between steps. Rows with
    `days_seen_bits == 0` are the users leaving the window on their `dt`.
    """
    users = _gathered_by_user(previous, daily, archived)
    rows = _range_rows(_user_days(users, start, end))
    return rows.select(
        *[F.col(f.name).cast(f.dataType) for f in FILE_SCHEMA.fields],
        F.col("dt").cast(T.DateType()),
    )


def _gathered_by_user(previous: DataFrame, daily: DataFrame, archived: DataFrame) -> DataFrame:
    """One row per user in the range: their state of start-1 (`p`), archived row (`a`) and
    sorted activity in the range (`acts`: `d`, `n`, `platform`, `account_id`, `r`)."""
    columns = [c for c in FILE_SCHEMA.fieldNames() if c != "user_id"]
    activity = F.struct(
        F.col("event_date").alias("d"),
        F.col("event_count").cast("long").alias("n"),
        F.col("platform").alias("platform"),
        F.col("account_id").alias("account_id"),
        F.col("revenue").alias("r"),
    )
    none = F.lit(None)
    # One shuffle: the three sources stacked, then gathered per user.
    stacked = (
        previous.select("user_id", F.struct(*columns).alias("p"), none.alias("a"), none.alias("t"))
        .unionByName(
            archived.select(
                "user_id", none.alias("p"), F.struct(*columns).alias("a"), none.alias("t")
            )
        )
        .unionByName(daily.select("user_id", none.alias("p"), none.alias("a"), activity.alias("t")))
    )
    users = stacked.groupBy("user_id").agg(
        F.max("p").alias("p"),
        F.max("a").alias("a"),
        F.array_sort(F.collect_list("t")).alias("acts"),
    )
    # Users only in the archive, not back in the range, are in none of its days.
    return users.where(F.col("p").isNotNull() | (F.size("acts") > 0))


def _user_days(users: DataFrame, start: date, end: date) -> DataFrame:
    """One row per user and day `dt` of the range (`k` days after `start`): the user's values
    before the range (`b0` bits, `b_<column>`), `acts`, and `so_far` (their activity up to dt)."""
    columns = [c for c in FILE_SCHEMA.fieldNames() if c != "user_id"]
    known = F.col("p").isNotNull()

    def before(column: str) -> Column:
        """The user's value before the range: their state of start-1, else their archived row."""
        return F.when(known, F.col(f"p.{column}")).otherwise(F.col(f"a.{column}"))

    base = users.select(
        "user_id",
        "acts",
        F.when(known, F.col("p.days_seen_bits")).otherwise(F.lit(0).cast("long")).alias("b0"),
        *[before(c).alias(f"b_{c}") for c in columns if c not in ("days_seen_bits", *FOLDED)],
        # As `next_users_state`: the state's total, else the archived row's (null: unknown),
        # else 0 for a user first seen in the range.
        F.when(known, F.col("p.revenue_total"))
        .when(F.col("a").isNotNull(), F.col("a.revenue_total"))
        .otherwise(F.lit(0.0).cast("double"))
        .alias("b_revenue_total"),
        *[
            F.when(known, F.col(f"p.{c}"))
            .when(F.col("a").isNotNull(), F.col(f"a.{c}"))
            .otherwise(F.lit(0).cast("long"))
            .alias(f"b_{c}")
            for c in ("gap_sq_total", "gap_max_days")
        ],
        F.explode(F.sequence(F.lit(0), F.lit((end - start).days))).alias("k"),
    ).withColumn("dt", F.date_add(F.lit(start).cast(T.DateType()), F.col("k")))
    # The user's activity in the range up to dt, which every running value reads.
    return base.withColumn("so_far", F.expr("filter(acts, x -> x.d <= dt)"))


def _range_bits(day: str, shift: str) -> Column:
    """The 64-day bits on `day`: the bits before the range shifted by `shift` (a shift of
    64 or more empties them), or'ed with the range's active days within 64 days."""
    return F.expr(
        f"(CASE WHEN {shift} < 64 THEN shiftleft(b0, {shift}) ELSE 0L END)"
        f" | aggregate(filter(acts, x -> x.d <= {day} AND datediff({day}, x.d) < 64),"
        f" 0L, (acc, x) -> acc | shiftleft(1L, datediff({day}, x.d)))"
    )


def _range_rows(base: DataFrame) -> DataFrame:
    """Each user's row on each `dt` of the range they are in or leave on dt."""
    rows = base.select(
        "user_id",
        "dt",
        _range_bits("dt", "k + 1").alias("days_seen_bits"),
        _range_bits("date_sub(dt, 1)", "k").alias("_bits_before"),
        F.coalesce(F.col("b_first_seen_date"), F.expr("try_element_at(acts, 1).d")).alias(
            "first_seen_date"
        ),
        F.coalesce(F.expr("try_element_at(so_far, -1).d"), F.col("b_last_seen_date")).alias(
            "last_seen_date"
        ),
        (F.coalesce(F.col("b_active_days_total"), F.lit(0)) + F.size("so_far")).alias(
            "active_days_total"
        ),
        (
            F.coalesce(F.col("b_events_total"), F.lit(0))
            + F.expr("aggregate(so_far, 0L, (acc, x) -> acc + x.n)")
        ).alias("events_total"),
        *[
            F.coalesce(
                F.expr(f"try_element_at(filter(so_far, x -> x.{c} IS NOT NULL), -1).{c}"),
                F.col(f"b_{c}"),
            ).alias(c)
            for c in ("platform", "account_id")
        ],
        *_range_folded_totals(),
    )
    rows = rows.withColumns({"gap_sq_total": F.col("_gaps.s"), "gap_max_days": F.col("_gaps.m")})
    # In the state on dt (some bit set), or leaving it on dt (in it the day before).
    return rows.where((F.col("days_seen_bits") != 0) | (F.col("_bits_before") != 0))


def _range_folded_totals() -> list[Column]:
    """`revenue_total` and `_gaps` (`s`: gap_sq_total, `m`: gap_max_days) on each dt, folded
    over the user's active days so far."""
    return [
        # Folded from the total before the range, one active day at a time in date order:
        # the same additions, in the same order, as the steps of `next_users_state`.
        F.expr("aggregate(so_far, b_revenue_total, (acc, x) -> acc + coalesce(x.r, 0D))").alias(
            "revenue_total"
        ),
        # The gap each active day of the range closes (0 for a user's first day ever), folded
        # from the last active day before the range; an unknown total stays unknown.
        F.expr(
            f"aggregate(so_far, named_struct('l', b_last_seen_date, 's', b_gap_sq_total,"
            f" 'm', b_gap_max_days), (acc, x) -> named_struct('l', x.d,"
            f" 's', acc.s + {_GAP} * {_GAP},"
            f" 'm', CASE WHEN acc.m IS NULL THEN NULL ELSE greatest(acc.m, {_GAP}) END))"
        ).alias("_gaps"),
    ]
